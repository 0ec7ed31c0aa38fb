// The citizens' API (/apply/api/, README "Online applications"): JSON in and out, the draft's
// resume code in X-Draft-Code and the receipt token in X-Receipt-Token (never in a URL). Every
// failure becomes a Problem whose `text` is words for the citizen, never raw JSON.

export class Problem extends Error {
  // status: HTTP status (0: the server could not be reached); code: the envelope's error code;
  // text: what to show (Japanese, then English); details: the envelope's details (field errors).
  constructor(status, code, text, details = []) {
    super(text);
    this.status = status;
    this.code = code;
    this.text = text;
    this.details = details;
  }
}

const OFFLINE = "サーバーに接続できません。通信環境を確認して、もう一度お試しください。 "
  + "The server cannot be reached. Check your connection and try again.";
const BROKEN = "サーバーで問題が起きました。しばらくしてから、もう一度お試しください。 "
  + "Something went wrong on the server. Please try again in a few minutes.";
const BUSY = "ただいま混み合っています。しばらくしてから、もう一度お試しください。 "
  + "The service is busy. Please try again in a minute.";

// `method` `path` with `body` (JSON) or `bytes` (a Blob sent as application/octet-stream);
// `code`/`token` add the draft or receipt header; `headers` more headers; `blob` reads the answer
// as a Blob. Resolves to the answer (decoded JSON, or the Blob) or throws a Problem.
export async function api(method, path, { body, bytes, code, token, headers = {}, blob = false } = {}) {
  const init = { method, headers: { Accept: blob ? "application/pdf" : "application/json", ...headers }, cache: "no-store" };
  if (code) init.headers["X-Draft-Code"] = code;
  if (token) init.headers["X-Receipt-Token"] = token;
  if (bytes !== undefined) {
    init.headers["Content-Type"] = "application/octet-stream";
    init.body = bytes;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new Problem(0, "offline", OFFLINE);
  }
  if (response.ok && blob) return response.blob();
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok && data !== null) return data;
  const error = data?.error;
  if (response.status >= 500 || !error) throw new Problem(response.status, error?.code || "server_error", BROKEN);
  if (response.status === 429) throw new Problem(429, error.code, BUSY);
  throw new Problem(response.status, error.code, error.message || BROKEN, error.details || []);
}

// sessionStorage keys: the draft being filled in this tab (so a reload continues), and the receipt
// token of an application being corrected (so its receipt is shown again after sending).
const DRAFT = "madoguchi.apply.draft";
const CORRECTING = "madoguchi.apply.correcting";

export const stored = {
  code: () => sessionStorage.getItem(DRAFT),
  setCode: (code) => (code ? sessionStorage.setItem(DRAFT, code) : sessionStorage.removeItem(DRAFT)),
  correcting: () => sessionStorage.getItem(CORRECTING),
  setCorrecting: (token) => (token ? sessionStorage.setItem(CORRECTING, token) : sessionStorage.removeItem(CORRECTING)),
};
