// A citizen applies from a phone (issue 14, section 3 "Real browsers"): finds 戸籍証明書等の郵送請求 by its
// reading, fills it page by page — the postal code finds the address, 「その他」 makes the server show one more
// question, a photo of an identity document is attached — saves, resumes in another window with the code
// typed in lower case with spaces, checks the answers and sends; the receipt shows the reference number.
// axe-core runs on the portal, a form page with the condition shown, the saved code, the check and the receipt.
//
// params: {photo: path of a JPEG on this machine}
// returns: {reference, code, pages: {name: viewport}}

import assert from 'node:assert/strict';

export default async function apply(session, { params, step }) {
  const { photo } = params;
  assert.ok(typeof photo === 'string' && photo, 'params.photo is needed (a file path)');
  const viewports = {};

  step('portal: find the procedure by its reading');
  const phone = await session.open('phone', { width: 390, height: 844, mobile: true });
  await phone.goto('/apply/');
  await phone.waitFor({ role: 'heading', name: 'オンライン申請' });
  viewports.phone = await phone.viewport();
  await phone.axe('apply portal');
  await phone.fill('手続を探す', 'こせき');
  await phone.click({ role: 'button', name: '検索' });
  await phone.waitForText('#results-title', '1件');
  await phone.click({ role: 'link', name: '戸籍証明書等の郵送請求' });
  await phone.waitFor({ role: 'heading', name: '戸籍証明書等の郵送請求' });
  await phone.click({ role: 'button', name: '申請を始める' });

  step('page 1: the applicant; the postal code finds the address');
  await phone.waitFor({ role: 'heading', name: '請求する方' });
  await phone.fill({ css: '#q-name-family' }, '佐藤');
  await phone.fill({ css: '#q-name-given' }, '一郎');
  await phone.fill({ css: '#q-name-family_kana' }, 'さとう');
  await phone.fill({ css: '#q-name-given_kana' }, 'いちろう');
  await phone.fill({ css: '#q-address-postal_code' }, '1000001');
  await phone.click({ role: 'button', name: '住所を検索' });
  await phone.waitUntil('the address is filled from the postal code',
    () => document.getElementById('q-address-address').value === '東京都千代田区千代田');
  await phone.fill({ css: '#q-address-address' }, '東京都千代田区千代田1-1');
  await phone.fill('日中の電話番号', '0312345678');
  await phone.click({ css: '#continue' });

  step('page 2: 「その他」 shows one more question, decided by the server');
  await phone.waitFor({ role: 'heading', name: '必要な戸籍' });
  await phone.fill('本籍', '東京都千代田区千代田1番地');
  await phone.fill({ css: '#q-head-family' }, '佐藤');
  await phone.fill({ css: '#q-head-given' }, '一郎');
  await phone.click({ label: '戸籍謄本（全部事項証明）' });
  await phone.fill('通数（各）', '2');
  assert.equal(await phone.text({ label: 'その他の使用目的' }), '', 'the extra question must be hidden at first');
  await phone.click({ label: 'その他' });
  await phone.waitFor({ label: 'その他の使用目的' });
  await phone.fill('その他の使用目的', '相続登記のため');
  await phone.axe('apply page with a condition shown');
  await phone.screenshot('apply-condition');
  await phone.click({ css: '#continue' });

  step('page 3: a photo of an identity document, then save for later');
  await phone.waitFor({ role: 'heading', name: '本人確認書類' });
  await phone.upload({ css: '#q-id_copy' }, photo);
  await phone.waitForText('#q-id_copy-status', '添付済み', { timeout: 15000 });
  await phone.click({ role: 'button', name: '保存して後で再開' });
  await phone.waitFor({ role: 'heading', name: '入力内容を保存しました' });
  const code = (await phone.text('#resume-code')).trim();
  assert.match(code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
  await phone.axe('apply saved');
  await phone.screenshot('apply-saved');

  step('another window: resume with the code typed loosely');
  const later = await session.open('later', { width: 390, height: 844, mobile: true });
  await later.goto('/apply/#/resume');
  await later.waitFor({ role: 'heading', name: '保存した申請を再開' });
  await later.fill('再開コード', code.toLowerCase().replaceAll('-', ' '));
  await later.click({ role: 'button', name: '再開する' });
  await later.waitFor({ role: 'heading', name: '本人確認書類' });
  await later.waitForText('#q-id_copy-status', '添付済み');
  await later.click({ css: '#continue' });

  step('check your answers, then send');
  await later.waitFor({ role: 'heading', name: '入力内容の確認' });
  await later.waitForText('#view', '佐藤　一郎（サトウ　イチロウ）');
  await later.waitForText('#view', '〒100-0001 東京都千代田区千代田1-1');
  await later.waitForText('#view', '相続登記のため');
  await later.axe('apply check');
  await later.click({ css: '#send' });
  await later.waitFor({ role: 'heading', name: '申請を受け付けました' }, { timeout: 15000 });
  const reference = (await later.waitForText('#reference', /^KS-\d{4}-\d{5}$/)).trim();
  await later.axe('apply receipt');
  await later.screenshot('apply-receipt');
  viewports.later = await later.viewport();

  return { reference, code, viewports };
}
