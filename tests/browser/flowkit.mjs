// The one interface every cross-browser flow is written against (tests/browser/flows/*.mjs).
//
// A flow gets a Session (one running browser) and opens Tabs in it. A Tab finds elements the way a
// person does, by a label's text or a button's name (or a CSS selector where nothing visible names
// the element), waits for what the server pushes, and acts through the driver's real input (a
// mouse click at the element, key presses), so the page sees the same events as from a person.
// Finding runs in the page (FIND below), the same source in every browser; acting and reading go
// through a driver (drivers.mjs): puppeteer-core for Chromium and Firefox, selenium-webdriver for
// WebKitGTK.

import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'crossbrowser');
const AXE_SOURCE = join(HERE, 'node_modules', 'axe-core', 'axe.min.js');
/** WCAG 2.0/2.1/2.2 A and AA rules (JIS X 8341-3:2016 follows WCAG 2.0 AA); as tests/browserkit.py. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const POLL_MS = 50;
// The errors a driver raises for an element the page has replaced meanwhile (puppeteer, WebDriver).
const STALE = /StaleElementReference|detached|not attached|not connected/i;

/** A flow's own failure: what was expected and what the page showed. */
export class FlowError extends Error {}

/**
 * Runs in the page. `query` is one of
 *   {css}                  the first element matching the selector,
 *   {label}                the form control whose <label> text (spaces collapsed) is `label` or starts
 *                          with `label` and a space ("職員ID" finds <label>職員ID <span>User name</span>),
 *   {role, name}           an element of that role (button, link, heading) whose name (aria-label, or its
 *                          text less aria-hidden parts) is `name` or starts with `name` and a space,
 * and, with any of them, `within` (a CSS selector the element must be inside).
 * Only visible elements count. Returns the element, or null.
 */
export const FIND = function find(query) {
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const named = (text, name) => { const t = norm(text); return t === name || t.startsWith(name + ' '); };
  // An element's text as a screen reader names it: without the parts hidden from it (aria-hidden).
  const spoken = (el) => {
    if (el.getAttribute('aria-label')) return el.getAttribute('aria-label');
    if (el.tagName === 'INPUT') return el.value;
    const copy = el.cloneNode(true);
    copy.querySelectorAll('[aria-hidden=true]').forEach((hidden) => hidden.remove());
    return copy.textContent;
  };
  const visible = (el) => (el.checkVisibility ? el.checkVisibility() : el.getClientRects().length > 0);
  const scope = query.within ? document.querySelector(query.within) : document;
  if (!scope) return null;
  if (query.css) return [...scope.querySelectorAll(query.css)].find(visible) || null;
  if (query.label) {
    for (const label of scope.querySelectorAll('label')) {
      if (named(label.textContent, query.label) && label.control && visible(label.control)) return label.control;
    }
    return null;
  }
  const roles = {
    button: 'button, [role=button], input[type=submit], input[type=button]',
    link: 'a[href], [role=link]',
    heading: 'h1, h2, h3, h4, h5, h6, [role=heading]',
  };
  const selector = roles[query.role];
  if (!selector) throw new Error(`unknown role ${query.role}`);
  return [...scope.querySelectorAll(selector)]
    .find((el) => visible(el) && named(spoken(el), query.name)) || null;
};

/** Runs in the page: the element's state as plain data. */
export const DESCRIBE = function describe(el) {
  return { text: el.innerText, disabled: !!el.disabled || el.getAttribute('aria-disabled') === 'true' };
};

function show(query) {
  const where = query.within ? ` in ${query.within}` : '';
  if (query.css) return `${query.css}${where}`;
  if (query.label) return `the field labelled 「${query.label}」${where}`;
  return `the ${query.role} 「${query.name}」${where}`;
}

function asQuery(target) {
  return typeof target === 'string' ? { css: target } : target;
}

function matches(text, expected) {
  return expected instanceof RegExp ? expected.test(text) : text.includes(expected);
}

/** One page in its own window or tab, sized as a device's screen. */
export class Tab {
  /**
   * @param {object} driver  the browser's adapter (drivers.mjs): its low-level page operations
   * @param {object} handle  the adapter's own handle for this page
   * @param {string} name    short name, used in screenshots' file names and messages
   * @param {Session} session
   */
  constructor(driver, handle, name, session) {
    this.driver = driver;
    this.handle = handle;
    this.name = name;
    this.session = session;
  }

  /** Load `path` (relative to the server's base URL) and wait for the load event. */
  async goto(path) {
    await this.driver.goto(this.handle, new URL(path, this.session.base).href);
  }

  /** The element for `target` (a CSS selector string or a query, see FIND) once it is visible;
   * with `enabled`, once it is also not disabled. Throws FlowError after `timeout` ms (the session's waitMs). */
  async waitFor(target, { timeout = this.session.waitMs, enabled = false } = {}) {
    const query = asQuery(target);
    const deadline = Date.now() + timeout;
    for (;;) {
      const el = await this.driver.find(this.handle, query);
      if (el) {
        if (!enabled || !(await this.driver.call(this.handle, DESCRIBE, el)).disabled) return el;
      }
      if (Date.now() > deadline) {
        throw new FlowError(`${this.name}: ${show(query)} did not appear${enabled ? ' enabled' : ''} within ${timeout} ms`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Whether `target` is visible and disabled now. */
  async isDisabled(target) {
    const el = await this.waitFor(target);
    return (await this.driver.call(this.handle, DESCRIBE, el)).disabled;
  }

  /** Click `target` (waits until it is visible and enabled) with the driver's mouse. A page that redraws
   * the element between finding and clicking (a pushed change) gets it found again, up to three times. */
  async click(target, options = {}) {
    for (let attempt = 1; ; attempt += 1) {
      const el = await this.waitFor(target, { ...options, enabled: true });
      try {
        await this.driver.click(this.handle, el);
        return;
      } catch (err) {
        if (attempt >= 3 || !STALE.test(`${err.name} ${err.message}`)) throw err;
      }
    }
  }

  /** Type `value` into the field labelled `label` (or found by `target`), replacing what it held. */
  async fill(label, value, options = {}) {
    const el = await this.waitFor(typeof label === 'string' ? { label } : label, { ...options, enabled: true });
    await this.driver.type(this.handle, el, value);
  }

  /** Choose the file at `path` (on this machine) in the file input `target`, as a person picking it in the
   * browser's file chooser does: through the driver (puppeteer's uploadFile, WebDriver's send keys). */
  async upload(target, path) {
    const el = await this.waitFor(target, { enabled: true });
    await this.driver.upload(this.handle, el, path);
  }

  /** The visible text of `target` now ('' when it is not there). */
  async text(target) {
    const el = await this.driver.find(this.handle, asQuery(target));
    return el ? (await this.driver.call(this.handle, DESCRIBE, el)).text : '';
  }

  /** An attribute of `target` (waits until it is visible). */
  async attribute(target, name) {
    const el = await this.waitFor(target);
    return this.driver.call(this.handle, (e, n) => e.getAttribute(n), el, name);
  }

  /** Wait until the text of `target` contains `expected` (a string, or a RegExp to match); the text. */
  async waitForText(target, expected, { timeout = this.session.waitMs } = {}) {
    const query = asQuery(target);
    const deadline = Date.now() + timeout;
    let last = '';
    for (;;) {
      last = await this.text(query);
      if (matches(last, expected)) return last;
      if (Date.now() > deadline) {
        throw new FlowError(`${this.name}: ${show(query)} did not show ${expected} within ${timeout} ms; it shows ${JSON.stringify(last)}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Wait until `fn(...args)`, evaluated in the page, returns a truthy value; that value. `what` names the
   * condition in the FlowError thrown after the session's waitMs. */
  async waitUntil(what, fn, ...args) {
    const deadline = Date.now() + this.session.waitMs;
    for (;;) {
      const value = await this.driver.call(this.handle, fn, ...args);
      if (value) return value;
      if (Date.now() > deadline) throw new FlowError(`${this.name}: ${what}: not so within ${this.session.waitMs} ms`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Evaluate `fn(...args)` in the page; its (JSON-able) result. */
  async evaluate(fn, ...args) {
    return this.driver.call(this.handle, fn, ...args);
  }

  /** Save test-artifacts/crossbrowser/<browser>-<name>.png; its path. */
  async screenshot(name) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const path = join(ARTIFACTS, `${this.session.browser}-${name}.png`);
    await this.driver.screenshot(this.handle, path);
    this.session.screenshots.push(path);
    return path;
  }

  /** Run axe-core (WCAG A/AA) on the page as it is now; the violations are recorded under `what`
   * in the run's result (the Python side asserts there are none) and returned. */
  async axe(what) {
    const loaded = await this.driver.call(this.handle, () => typeof window.axe === 'object');
    if (!loaded) await this.driver.inject(this.handle, readFileSync(AXE_SOURCE, 'utf8'));
    const violations = await this.driver.call(this.handle, async (tags) => {
      const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags } });
      return result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
      }));
    }, AXE_TAGS);
    this.session.axe[what] = violations;
    return violations;
  }

  /** The page's current viewport in CSS pixels: {width, height}. */
  async viewport() {
    return this.driver.call(this.handle, () => ({ width: window.innerWidth, height: window.innerHeight }));
  }
}

/** One running browser and what the flow recorded in it. */
export class Session {
  /**
   * @param {object} driver   the adapter from drivers.mjs
   * @param {string} browser  chromium | firefox | webkit
   * @param {string} base     the server's base URL
   * @param {number} waitMs   how long a Tab waits for an element or a text unless told otherwise
   */
  constructor(driver, browser, base, waitMs = 10_000) {
    this.driver = driver;
    this.browser = browser;
    this.base = base;
    this.waitMs = waitMs;
    this.tabs = [];
    this.axe = {};
    this.screenshots = [];
  }

  /** A new page of `width` × `height` CSS pixels (`mobile`: a phone, touch and mobile viewport where the
   * browser can emulate one). The browser may give a larger page than asked (WebKitGTK's MiniBrowser
   * window is at least 447 px wide): Tab.viewport() tells. */
  async open(name, { width, height, mobile = false }) {
    const handle = await this.driver.newPage({ width, height, mobile });
    const tab = new Tab(this.driver, handle, name, this);
    this.tabs.push(tab);
    return tab;
  }

  /** Script errors the pages raised (where the driver reports them: Chromium and Firefox). */
  scriptErrors() {
    return this.driver.scriptErrors();
  }
}
