// A visitor's ticket, from a kiosk paired by code to the call on the visitor's phone (issue 3's morning,
// issue 14 section 3 "Real browsers"). Every step types or clicks as a person does and waits for what
// the server pushes:
//   kiosk    paired by typing its code (a wrong code first: the error shows), then 証明発行 shows 準備中
//   counter  a clerk signs in by typing ID and password and takes counter N
//   kiosk    証明発行 opens by itself (pushed), the visitor taps it and issues a ticket
//   phone    /t/<token> from the ticket's QR code shows the number and 順番をお待ちください
//   counter  the clerk presses 呼出
//   phone    shows N番窓口へお越しください (pushed), timed from the press
// axe-core runs on the pairing, start, issued and phone pages; screenshots of each.
//
// params: {kiosk_code: a kiosk's pairing code, clerk: user name, password, counter: counter number as text}
// returns: {number, token, counter, call_to_phone_ms, open_to_kiosk_ms, viewports: {page: {width, height}}}; the two
// times in ms from before the click (the counter's choice, 呼出) until the other page shows it: upper bounds of
// the push, the driver's own round trips included.

import assert from 'node:assert/strict';

export default async function ticket(session, { params, step }) {
  const { kiosk_code: kioskCode, clerk, password, counter } = params;
  for (const [key, value] of Object.entries({ kiosk_code: kioskCode, clerk, password, counter })) {
    assert.ok(typeof value === 'string' && value, `params.${key} is needed (a string)`);
  }
  const viewports = {};

  step('kiosk: pairing screen');
  const kiosk = await session.open('kiosk', { width: 1080, height: 1920 });
  await kiosk.goto('/kiosk/?menu=koseki_shomei');
  await kiosk.waitFor({ role: 'heading', name: '端末の登録' });
  viewports.kiosk = await kiosk.viewport();
  await kiosk.axe('kiosk pairing');

  step('kiosk: a wrong code is refused');
  await kiosk.fill('登録コード', 'not-a-pairing-code');
  await kiosk.click({ role: 'button', name: '登録', within: '#pair-form' });
  await kiosk.waitForText('#pair-error', '登録できませんでした');

  step('kiosk: paired by its code');
  await kiosk.fill('登録コード', kioskCode);
  await kiosk.click({ role: 'button', name: '登録', within: '#pair-form' });
  await kiosk.waitFor({ role: 'heading', name: '手続きを選んでください' });
  const closed = '.procedure[data-queue="shomei"]';
  assert.ok(await kiosk.isDisabled(closed), 'no counter is open yet: 証明発行 must show as closed');
  assert.match(await kiosk.text(closed), /準備中/);
  await kiosk.axe('kiosk start');
  await kiosk.screenshot('kiosk-closed');

  step(`counter: ${clerk} signs in and takes counter ${counter}`);
  const terminal = await session.open('counter', { width: 1366, height: 768 });
  await terminal.goto('/counter/');
  await terminal.fill('職員ID', clerk);
  await terminal.fill('パスワード', password);
  await terminal.click({ role: 'button', name: 'サインイン' });
  const choice = { role: 'button', name: `${counter}番窓口` };
  await terminal.waitFor(choice, { enabled: true });
  const opened = Date.now();       // from before the click, as the call below: an upper bound
  await terminal.click(choice);
  await terminal.waitFor({ role: 'button', name: '呼出' });

  step('kiosk: 証明発行 opens by itself; a ticket is issued');
  await kiosk.waitFor({ role: 'button', name: '証明発行（住民票・印鑑証明・戸籍証明）' }, { enabled: true });
  const openToKioskMs = Date.now() - opened;
  await kiosk.click({ role: 'button', name: '証明発行（住民票・印鑑証明・戸籍証明）' });
  await kiosk.waitFor({ role: 'heading', name: 'この手続きの番号札を発行しますか？' });
  await kiosk.click({ role: 'button', name: '番号札を発行する' });
  await kiosk.waitFor({ role: 'heading', name: 'あなたの番号' });
  const number = (await kiosk.waitForText('#issued-number', /^\s*\d+\s*$/)).trim();
  // The ticket's QR code: its phone page, drawn once the image has loaded.
  const qr = await kiosk.waitUntil('the QR code points to the phone page and has loaded', () => {
    const img = document.getElementById('issued-qr');
    const src = img.getAttribute('src') || '';
    return /\/t\/[A-Za-z0-9_-]+\/qr\.svg/.test(src) && img.complete && img.naturalWidth > 0 ? src : null;
  });
  const token = /\/t\/([A-Za-z0-9_-]+)\/qr\.svg/.exec(qr);
  await kiosk.axe('kiosk issued');
  await kiosk.screenshot('kiosk-issued');

  step('phone: the ticket page waits');
  const phone = await session.open('phone', { width: 390, height: 844, mobile: true });
  await phone.goto(`/t/${token[1]}`);
  await phone.waitForText('#number', number);
  await phone.waitForText('#message', '順番をお待ちください');
  viewports.phone = await phone.viewport();
  await phone.axe('phone waiting');
  await phone.screenshot('phone-waiting');

  step('counter: 呼出; the phone shows the counter');
  const pressed = Date.now();      // from before the click: its own round trips count too (an upper bound)
  await terminal.click({ role: 'button', name: '呼出' });
  await phone.waitForText('#message', `${counter}番窓口へお越しください`, { timeout: 5000 });
  const callToPhoneMs = Date.now() - pressed;
  await terminal.waitForText('#current', number);
  await phone.axe('phone called');
  await phone.screenshot('phone-called');
  await terminal.screenshot('counter-called');

  return { number, token: token[1], counter, call_to_phone_ms: callToPhoneMs, open_to_kiosk_ms: openToKioskMs, viewports };
}
