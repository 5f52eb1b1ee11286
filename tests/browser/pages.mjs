// The example server's pages as a person sees them, in headless Chromium (Debian's `chromium`,
// driven by playwright-core): sign in, consent, deny, device code entry, revoking an app; with
// the keyboard only, and the accessibility basics (every input labelled, focus visible and in
// order, text contrast). Run by .ci/run:
//
//   node tests/browser/pages.mjs target/debug/examples/server [SCREENSHOT_DIR]
//
// Exits non-zero at the first failed check, naming it.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const [serverBin, screenshotDir] = process.argv.slice(2);
if (!serverBin) {
  console.error("usage: node pages.mjs SERVER_BINARY [SCREENSHOT_DIR]");
  process.exit(2);
}
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

// The client's redirect URI: a server on a free loopback port recording where the provider
// sends the browser.
const redirects = [];
const callback = createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname === "/cb") redirects.push(url); // not the browser's favicon request
  res.writeHead(200, { "content-type": "text/html" }).end("<title>client</title>back at the client");
});
callback.listen(0, "127.0.0.1");
await once(callback, "listening");
const REDIRECT = `http://127.0.0.1:${callback.address().port}/cb`;

let failures = 0;
function check(holds, what) {
  if (!holds) {
    failures += 1;
    console.error(`FAIL ${what}`);
    throw new Error(what);
  }
  console.log(`ok   ${what}`);
}

// --- the server -------------------------------------------------------------------------------
const server = spawn(serverBin, ["--addr", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
const issuer = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("the server did not start in 30 s")), 30_000);
  let seen = "";
  server.stdout.on("data", (chunk) => {
    seen += chunk;
    const m = seen.match(/listening on (http:\/\/\S+)/);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]);
    }
  });
  server.on("exit", (code) => reject(new Error(`the server exited (${code})`)));
});

async function register(name, grantTypes) {
  const response = await fetch(`${issuer}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: name, redirect_uris: [REDIRECT], grant_types: grantTypes }),
  });
  check(response.status === 201, `register ${name}: 201`);
  return response.json();
}

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

function authorizeUrl(client, state, challenge) {
  const q = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    scope: "whoami",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  return `${issuer}/authorize?${q}`;
}

async function token(client, params) {
  const response = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: "Basic " + Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64"),
    },
    body: new URLSearchParams(params),
  });
  return { status: response.status, body: await response.json() };
}

// WCAG 2 relative luminance contrast of an element's text against the page background.
async function contrast(page, selector) {
  return page.$eval(selector, (el) => {
    const rgb = (s) => s.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => {
      const c = [r, g, b].map((v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    let bg = "rgb(255, 255, 255)";
    for (let n = el; n; n = n.parentElement) {
      const b = getComputedStyle(n).backgroundColor;
      if (b && !b.startsWith("rgba(0, 0, 0, 0)") && b !== "transparent") {
        bg = b;
        break;
      }
    }
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(rgb(bg))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  });
}

// Every visible input, button and select has an accessible name; no two ids repeat.
async function accessibilityBasics(page, what) {
  const unnamed = await page.$$eval("input:not([type=hidden]), button, select, textarea", (els) =>
    els
      .filter((el) => {
        const labelled = el.id && document.querySelector(`label[for="${el.id}"]`);
        const text = (el.textContent || "").trim() || el.getAttribute("aria-label") || el.value;
        return !(labelled || (el.tagName === "BUTTON" && text) || el.getAttribute("aria-label"));
      })
      .map((el) => el.outerHTML),
  );
  check(unnamed.length === 0, `${what}: every control has an accessible name ${unnamed.join(" ")}`);
  check((await page.getAttribute("html", "lang")) === "en", `${what}: the page declares its language`);
  check((await page.title()).length > 0, `${what}: the page has a title`);
  const ratio = await contrast(page, "body");
  check(ratio >= 4.5, `${what}: body text contrast ${ratio.toFixed(1)} >= 4.5`);
}

// Tab until the focused element matches `selector` (at most 20 presses); the focus must be
// visible (an outline or a box shadow) when it lands.
async function tabTo(page, selector, what) {
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) {
      const visible = await page.evaluate(() => {
        const s = getComputedStyle(document.activeElement);
        return (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
      });
      check(visible, `${what}: focus on ${selector} is visible`);
      return;
    }
  }
  check(false, `${what}: ${selector} is reachable with Tab`);
}

const browser = await chromium.launch({
  executablePath: browserPath,
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();

  // 1. Sign in and consent, keyboard only.
  const app = await register("Photo Printer", ["authorization_code"]);
  const flow = pkce();
  await page.goto(authorizeUrl(app, "s1", flow.challenge));
  check((await page.textContent("h1")).includes("Sign in"), "login page: heading");
  check((await page.textContent("body")).includes("Photo Printer"), "login page: names the client");
  await accessibilityBasics(page, "login page");
  check((await page.getByLabel("Username").count()) === 1, "login page: Username is labelled");
  check((await page.getByLabel("Password").getAttribute("type")) === "password", "login page: the password is masked");
  await tabTo(page, "#username", "login page");
  await page.keyboard.type("demo");
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement?.id === "password"), "login page: Tab goes from username to password");
  await page.keyboard.type("wrong");
  await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
  await page.waitForSelector("h1");
  check((await page.textContent("body")).includes("Wrong username or password"), "login page: a wrong password is said so");
  await tabTo(page, "#username", "login page again");
  await page.keyboard.type("demo");
  await page.keyboard.press("Tab");
  await page.keyboard.type("demo");
  await page.keyboard.press("Enter");
  await page.waitForSelector("button[value=allow]");
  const consentText = await page.textContent("body");
  check((await page.textContent("h1")).includes("Authorize Photo Printer"), "consent page: names the client");
  check(consentText.includes("whoami"), "consent page: lists the scope");
  check(consentText.includes(`127.0.0.1:${callback.address().port}`), "consent page: shows where the user will be sent");
  check(consentText.includes("Signed in as") && consentText.includes("demo"), "consent page: shows who is signed in");
  await accessibilityBasics(page, "consent page");
  if (screenshotDir) await page.screenshot({ path: `${screenshotDir}/consent.png` });
  await tabTo(page, "button[value=allow]", "consent page");
  await Promise.all([page.waitForURL(`${REDIRECT}**`), page.keyboard.press("Enter")]);
  const back = redirects.at(-1);
  check(back.searchParams.get("state") === "s1", "allow: the state comes back");
  check(back.searchParams.get("iss") === issuer, "allow: iss is the issuer (RFC 9207)");
  const code = back.searchParams.get("code");
  check(!!code, "allow: a code comes back");
  const tokens = await token(app, {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT,
    code_verifier: flow.verifier,
  });
  check(tokens.status === 200 && !!tokens.body.access_token, "allow: the code redeems");
  const me = await fetch(`${issuer}/api/me`, { headers: { authorization: `Bearer ${tokens.body.access_token}` } });
  check(me.status === 200, "allow: the token reads /api/me");

  // 2. Deny, for another client (the session is kept; its consent page appears).
  const other = await register("Unwanted Toolbar", ["authorization_code"]);
  await page.goto(authorizeUrl(other, "s2", pkce().challenge));
  await page.waitForSelector("button[value=deny]");
  check((await page.textContent("h1")).includes("Unwanted Toolbar"), "deny: the consent page names the second client");
  await Promise.all([page.waitForURL(`${REDIRECT}**`), page.click("button[value=deny]")]);
  const denied = redirects.at(-1);
  check(denied.searchParams.get("error") === "access_denied", "deny: access_denied comes back");
  check(denied.searchParams.get("state") === "s2" && !denied.searchParams.get("code"), "deny: the state, and no code");

  // 3. A device: the code typed into the form, the phishing warning, then allow.
  const tv = await register("Living Room TV", ["urn:ietf:params:oauth:grant-type:device_code"]);
  const started = await fetch(`${issuer}/device_authorization`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: "Basic " + Buffer.from(`${tv.client_id}:${tv.client_secret}`).toString("base64"),
    },
    body: new URLSearchParams({ scope: "whoami" }),
  });
  check(started.status === 200, "device: authorization started");
  const device = await started.json();
  await page.goto(device.verification_uri);
  await accessibilityBasics(page, "device page");
  check((await page.getByLabel("Code").count()) === 1, "device page: the code input is labelled");
  await tabTo(page, "#user_code", "device page");
  await page.keyboard.type(device.user_code);
  await page.keyboard.press("Enter");
  await page.waitForSelector("button[value=allow]");
  const warning = await page.textContent(".warning");
  check(warning.includes(device.user_code), "device consent: the warning repeats the code");
  check(/Only continue if you started this yourself/.test(warning), "device consent: the remote-phishing warning (RFC 8628 §5.4)");
  await page.click("button[value=allow]");
  await page.waitForSelector("h1");
  const polled = await token(tv, {
    grant_type: "urn:ietf:params:oauth:grant-type:device_code",
    device_code: device.device_code,
  });
  check(polled.status === 200 && !!polled.body.access_token, "device: the poll after approval gets tokens");

  // 4. The authorized apps: both granted apps are listed; revoking one kills its tokens.
  await page.goto(`${issuer}/apps`);
  await accessibilityBasics(page, "apps page");
  const listed = await page.textContent("body");
  check(listed.includes("Photo Printer") && listed.includes("Living Room TV"), "apps page: lists the authorized apps");
  check(!listed.includes("Unwanted Toolbar"), "apps page: a denied app is not listed");
  if (screenshotDir) await page.screenshot({ path: `${screenshotDir}/apps.png` });
  const form = page.locator("form", { hasText: "Photo Printer" });
  await Promise.all([page.waitForLoadState("load"), form.getByRole("button", { name: "Revoke access" }).click()]);
  await page.waitForSelector("h1");
  check((await page.textContent("h1")).includes("Applications you authorized"), "revoke: back at the list");
  check(!(await page.locator("form", { hasText: "Photo Printer" }).count()), "revoke: the app is gone from the list");
  const dead = await fetch(`${issuer}/api/me`, { headers: { authorization: `Bearer ${tokens.body.access_token}` } });
  check(dead.status === 401, "revoke: the app's token no longer reads /api/me");
  const tvStill = await fetch(`${issuer}/api/me`, { headers: { authorization: `Bearer ${polled.body.access_token}` } });
  check(tvStill.status === 200, "revoke: the other app's token still works");
} finally {
  await browser.close();
  callback.close();
  server.kill("SIGTERM");
  await once(server, "exit");
}
if (failures) process.exit(1);
console.log("all page checks passed");
