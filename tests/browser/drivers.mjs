// The three browsers, each from Debian's packages, none downloaded by a test tool:
//   chromium  /usr/bin/chromium     (package chromium)           puppeteer-core over the DevTools protocol
//   firefox   /usr/bin/firefox-esr  (package firefox-esr)        puppeteer-core over WebDriver BiDi (no geckodriver)
//   webkit    WebKitGTK's MiniBrowser (libwebkit2gtk-4.1-0)      selenium-webdriver over WebDriver classic, through
//             /usr/bin/WebKitWebDriver (package webkit2gtk-driver), on a private Xvfb screen (package xvfb)
// Each adapter gives flowkit.mjs the same low-level page operations: newPage, goto, find, call, click,
// type, screenshot, inject, scriptErrors, version, close.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import puppeteer from 'puppeteer-core';
import { Builder } from 'selenium-webdriver';
import portprober from 'selenium-webdriver/net/portprober.js';
import remote from 'selenium-webdriver/remote/index.js';

import { FIND } from './flowkit.mjs';

export const BROWSERS = ['chromium', 'firefox', 'webkit'];
const CHROMIUM = '/usr/bin/chromium';
const FIREFOX = '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
const XVFB = '/usr/bin/Xvfb';
// As tests/browserkit.py: no sandbox (root in CI), no GPU, no calls home (the machine has no network).
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'];
// Firefox ESR: no calls home either (updates, telemetry, remote settings, captive portal checks).
const FIREFOX_PREFS = {
  'app.update.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'services.settings.server': 'http://127.0.0.1:9/',
  'toolkit.telemetry.enabled': false,
};

/** Where Debian puts WebKitGTK's MiniBrowser: /usr/lib/<triplet>/webkit2gtk-4.1/MiniBrowser on Debian 12
 * (package libwebkit2gtk-4.1-0, a dependency of webkit2gtk-driver); webkitgtk-6.0 on later releases. */
export function miniBrowser() {
  const found = [];
  for (const triplet of readdirSync('/usr/lib')) {
    for (const api of ['webkitgtk-6.0', 'webkit2gtk-4.1', 'webkit2gtk-4.0']) {
      const path = join('/usr/lib', triplet, api, 'MiniBrowser');
      if (existsSync(path)) found.push(path);
    }
  }
  if (!found.length) throw new Error('WebKitGTK MiniBrowser not found under /usr/lib/*/webkit*: install webkit2gtk-driver');
  return found[0];
}

function need(path, pkg) {
  if (!existsSync(path)) throw new Error(`${path} not found: install Debian's ${pkg} (./dev test does)`);
}

/** Chromium and Firefox through puppeteer-core: each page in its own browser context (own cookies and storage). */
class PuppeteerDriver {
  static async launch(name) {
    const options = name === 'chromium'
      ? { browser: 'chrome', executablePath: CHROMIUM, args: CHROMIUM_ARGS }
      : { browser: 'firefox', executablePath: FIREFOX, extraPrefsFirefox: FIREFOX_PREFS };
    need(options.executablePath, name === 'chromium' ? 'chromium' : 'firefox-esr');
    const browser = await puppeteer.launch({ ...options, headless: true, protocolTimeout: 60_000 });
    return new PuppeteerDriver(browser);
  }

  constructor(browser) {
    this.browser = browser;
    this.errors = [];
  }

  async version() {
    return this.browser.version();
  }

  async newPage({ width, height, mobile }) {
    const context = await this.browser.createBrowserContext();
    const page = await context.newPage({ type: 'window' });
    page.on('pageerror', (err) => this.errors.push(String(err && err.message ? err.message : err)));
    await page.setViewport({ width, height, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: 1 });
    return page;
  }

  async goto(page, url) {
    await page.goto(url, { waitUntil: 'load' });
  }

  async find(page, query) {
    const handle = await page.evaluateHandle(FIND, query);
    const element = handle.asElement();
    if (!element) await handle.dispose();
    return element;
  }

  async call(page, fn, ...args) {
    return page.evaluate(fn, ...args);
  }

  async click(page, element) {
    await element.click();
  }

  async type(page, element, value) {
    await element.evaluate((e) => { e.value = ''; });
    await element.type(value);
  }

  async upload(page, element, path) {
    await element.uploadFile(path);
  }

  async screenshot(page, path) {
    await page.screenshot({ path });
  }

  async inject(page, source) {
    await page.evaluate(`${source}\n;true`);
  }

  scriptErrors() {
    return this.errors;
  }

  async close() {
    await this.browser.close();
  }
}

/** A private X screen for the MiniBrowser windows: Xvfb picks a free display number itself (-displayfd). */
async function startXvfb() {
  need(XVFB, 'xvfb');
  const proc = spawn(XVFB, ['-displayfd', '3', '-screen', '0', '2048x2048x24', '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk) => { stderr += chunk; });
  const display = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdio[3].on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(`:${out.trim()}`);
    });
    proc.on('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${stderr}`)));
  });
  return { proc, display };
}

/** WebKitGTK through WebKitWebDriver: one MiniBrowser, each page its own window (they share storage). */
class WebDriverDriver {
  static async launch() {
    need(WEBKIT_DRIVER, 'webkit2gtk-driver');
    const binary = miniBrowser();
    const xvfb = await startXvfb();
    const port = await portprober.findFreePort();
    const service = new remote.DriverService(WEBKIT_DRIVER, {
      port, args: [`--port=${port}`], loopback: true, env: { ...process.env, DISPLAY: xvfb.display },
    });
    try {
      const url = await service.start(30_000);
      const driver = await new Builder().usingServer(url).withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary, args: ['--automation'] },
      }).build();
      return new WebDriverDriver(driver, service, xvfb);
    } catch (err) {
      await service.kill();
      xvfb.proc.kill();
      throw err;
    }
  }

  constructor(driver, service, xvfb) {
    this.driver = driver;
    this.service = service;
    this.xvfb = xvfb;
    this.current = null;
    this.used = false;
  }

  async version() {
    const caps = await this.driver.getCapabilities();
    return `${caps.get('browserName')}/${caps.get('browserVersion')}`;
  }

  async newPage({ width, height }) {
    if (this.used) await this.driver.switchTo().newWindow('window');
    this.used = true;
    this.current = await this.driver.getWindowHandle();
    // The window holds a toolbar above the page: size the window so the page gets `height`.
    await this.driver.manage().window().setRect({ x: 0, y: 0, width, height });
    const toolbar = await this.driver.executeScript('return window.outerHeight - window.innerHeight');
    if (toolbar > 0) await this.driver.manage().window().setRect({ width, height: height + toolbar });
    return this.current;
  }

  async use(handle) {
    if (this.current !== handle) {
      await this.driver.switchTo().window(handle);
      this.current = handle;
    }
  }

  async goto(handle, url) {
    await this.use(handle);
    await this.driver.get(url);
  }

  async find(handle, query) {
    await this.use(handle);
    return this.driver.executeScript(FIND, query);
  }

  async call(handle, fn, ...args) {
    await this.use(handle);
    return this.driver.executeScript(fn, ...args);
  }

  async click(handle, element) {
    await this.use(handle);
    await element.click();
  }

  async type(handle, element, value) {
    await this.use(handle);
    await element.clear();
    await element.sendKeys(value);
  }

  async upload(handle, element, path) {
    await this.use(handle);
    await element.sendKeys(path);
  }

  async screenshot(handle, path) {
    await this.use(handle);
    writeFileSync(path, Buffer.from(await this.driver.takeScreenshot(), 'base64'));
  }

  async inject(handle, source) {
    await this.use(handle);
    await this.driver.executeScript(`${source}\n;return true;`);
  }

  scriptErrors() {
    return null;    // WebDriver classic has no channel for a page's uncaught errors
  }

  async close() {
    try {
      await this.driver.quit();
    } finally {
      await this.service.kill();
      this.xvfb.proc.kill();
    }
  }
}

/** Start `name` (one of BROWSERS); its adapter. Throws with the Debian package to install when a part is missing. */
export async function launch(name) {
  if (name === 'chromium' || name === 'firefox') return PuppeteerDriver.launch(name);
  if (name === 'webkit') return WebDriverDriver.launch();
  throw new Error(`unknown browser ${name}: one of ${BROWSERS.join(', ')}`);
}
