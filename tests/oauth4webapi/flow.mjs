// Drives examples/server.rs with panva's oauth4webapi, a strict client no one here wrote (run by
// .ci/run): `node tests/oauth4webapi/flow.mjs BINARY`. Against the server started three ways
// (no flags; `--dpop-nonce`; `--require-par`) it runs RFC 8414 and OpenID discovery, registers
// (RFC 7591) a client with an ES256 `jwks` generated here with WebCrypto and
// `private_key_jwt`, pushes the authorization request (RFC 9126) with a DPoP proof (RFC 9449
// §10.1) and PKCE, plays the user's browser on the login and consent pages, validates the
// authorization response (`iss`, `state`), exchanges the code with DPoP, calls `/api/me` with
// DPoP, refreshes with DPoP, and runs the OpenID Connect code flow (ID token, userinfo); then
// the same once more through openid-client (panva's client built on oauth4webapi). Every
// response goes through the library's own processing; the server's DPoP nonces are handled by
// its nonce cache and `isDPoPNonceError` retry. Any failed check exits non-zero.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import * as oauth from "oauth4webapi";
import * as openid from "openid-client";

// Never contacted: the browser step reads the final redirect's Location instead.
const REDIRECT = "http://127.0.0.1:9/callback";
const TIMEOUT_MS = 60_000;
// The example serves plain http on 127.0.0.1; oauth4webapi refuses http unless told.
const HTTP = { [oauth.allowInsecureRequests]: true };

const binary = process.argv[2];
if (!binary) {
  console.error("usage: node tests/oauth4webapi/flow.mjs BINARY");
  process.exit(2);
}

let server;
// The running server's log, shown only when the run fails.
let serverLog = "";
function fail(message) {
  process.stderr.write(serverLog);
  console.error(`oauth4webapi: FAIL: ${message}`);
  server?.kill();
  process.exit(1);
}
const timer = setTimeout(() => fail(`not done within ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Starts the example on a free port with `flags`; resolves to its issuer once it listens.
function start(flags) {
  serverLog = "";
  return new Promise((resolve, reject) => {
    server = spawn(binary, ["--addr", "127.0.0.1:0", ...flags], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stderr.on("data", (chunk) => (serverLog += chunk));
    server.on("error", reject);
    server.on("exit", (code) => reject(new Error(`the server exited early (${code})`)));
    createInterface({ input: server.stdout }).on("line", (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1].replace(/\/$/, ""));
    });
  });
}

function stop() {
  server.removeAllListeners("exit");
  server.kill();
  server = undefined;
}

// The text of an HTML attribute value as the browser reads it (the example's templates escape
// with minijinja: named entities and hexadecimal character references).
function unescapeHtml(text) {
  const named = { amp: "&", quot: '"', apos: "'", lt: "<", gt: ">" };
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : Number(name.slice(1));
      return String.fromCodePoint(code);
    }
    return named[name.toLowerCase()] ?? whole;
  });
}

// The hidden fields of the page's form, as name -> value.
function hiddenFields(html) {
  const fields = {};
  for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields[unescapeHtml(name)] = unescapeHtml(value);
  }
  return fields;
}

// The user's browser (cookies kept in memory): follows `authorize` through the login page
// (signing `demo` in) and the consent page (allowing), and returns the URL it is finally sent
// to at REDIRECT, whatever its parameters.
function newBrowser(base) {
  const cookies = new Map();
  const browse = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    if (cookies.size) {
      headers.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair.indexOf("=");
      cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    return response;
  };
  const post = (path, form) =>
    browse(`${base}${path}`, { method: "POST", body: new URLSearchParams(form) });
  return async function authorize(url) {
    let response = await browse(url);
    for (let step = 0; step < 8; step++) {
      if (response.status >= 300 && response.status < 400) {
        const to = new URL(response.headers.get("location"), base);
        if (to.href.startsWith(REDIRECT)) return to;
        check(to.origin === base, `a redirect away from the server: ${to}`);
        response = await browse(to);
        continue;
      }
      const page = await response.text();
      check(response.status === 200, `${response.status} from ${url}:\n${page}`);
      const fields = hiddenFields(page);
      if (page.includes('name="password"')) {
        response = await post("/login", { ...fields, username: "demo", password: "demo" });
      } else {
        check(page.includes('name="decision" value="allow"'), `neither login nor consent:\n${page}`);
        response = await post("/consent", { ...fields, decision: "allow" });
      }
    }
    throw new Error(`the authorization at ${url} did not end in a redirect to the client`);
  };
}

// Runs `attempt` (which sends a request and processes its response with oauth4webapi); when the
// server answers `use_dpop_nonce`, the DPoP handle has cached the nonce: one retry, counted.
async function nonced(stats, attempt) {
  try {
    return await attempt();
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    stats.nonceRetries += 1;
    return attempt();
  }
}

// A `private_key_jwt` client with an ES256 key made here, registered dynamically.
async function register(as, extra = {}) {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  );
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", publicKey);
  const kid = `peer-${oauth.generateRandomState().slice(0, 12)}`;
  const response = await oauth.dynamicClientRegistrationRequest(
    as,
    {
      client_name: "oauth4webapi peer test",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "private_key_jwt",
      token_endpoint_auth_signing_alg: "ES256",
      jwks: { keys: [{ kty, crv, x, y, kid, alg: "ES256", use: "sig" }] },
      ...extra,
    },
    HTTP,
  );
  const client = await oauth.processDynamicClientRegistrationResponse(response);
  check(client.client_id, "registration returned no client_id");
  check(client.client_secret === undefined, "a private_key_jwt client was given a client_secret");
  check(
    client.token_endpoint_auth_method === "private_key_jwt",
    `registered as ${client.token_endpoint_auth_method}, not private_key_jwt`,
  );
  return { client, auth: oauth.PrivateKeyJwt({ key: privateKey, kid }) };
}

// Discovery through oauth4webapi (it checks that `issuer` is the identifier asked for), both
// documents, and what this test relies on in them.
async function discover(issuer, requirePar) {
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...HTTP }),
  );
  const oidc = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...HTTP }),
  );
  for (const [name, doc] of [["RFC 8414", as], ["OpenID", oidc]]) {
    check(doc.pushed_authorization_request_endpoint, `${name} metadata has no PAR endpoint`);
    check(doc.dpop_signing_alg_values_supported?.includes("ES256"), `${name}: no ES256 for DPoP`);
    check(
      doc.token_endpoint_auth_methods_supported?.includes("private_key_jwt"),
      `${name}: private_key_jwt is not a token endpoint auth method`,
    );
    check(doc.registration_endpoint, `${name}: no registration endpoint`);
    check(
      doc.authorization_response_iss_parameter_supported === true,
      `${name}: authorization_response_iss_parameter_supported is not true (RFC 9207)`,
    );
    check(
      (doc.require_pushed_authorization_requests ?? false) === requirePar,
      `${name}: require_pushed_authorization_requests is ${doc.require_pushed_authorization_requests}`,
    );
  }
  check(oidc.jwks_uri && oidc.userinfo_endpoint, "OpenID metadata lacks jwks_uri or userinfo_endpoint");
  return { as, oidc };
}

// PAR (private_key_jwt, PKCE S256, a DPoP proof binding the code), the browser, the
// authorization response, the code exchange with DPoP. Returns the token response.
async function pushAndExchange({ as, client, auth, dpop, browser, stats, scope, nonce, otherKey }) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const params = {
    redirect_uri: REDIRECT,
    response_type: "code",
    scope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    ...(nonce ? { nonce } : {}),
  };
  const pushed = await nonced(stats, async () =>
    oauth.processPushedAuthorizationResponse(
      as,
      client,
      await oauth.pushedAuthorizationRequest(as, client, auth, params, { DPoP: dpop, ...HTTP }),
    ),
  );
  check(pushed.request_uri.startsWith("urn:ietf:params:oauth:request_uri:"), `request_uri ${pushed.request_uri}`);
  check(pushed.expires_in > 0, `expires_in ${pushed.expires_in}`);
  const authorize = new URL(as.authorization_endpoint);
  authorize.searchParams.set("client_id", client.client_id);
  authorize.searchParams.set("request_uri", pushed.request_uri);
  // oauth4webapi checks `iss` (RFC 9207, advertised) and `state`, and throws on an error.
  const callback = oauth.validateAuthResponse(as, client, await browser(authorize), state);
  check(callback.get("iss") === as.issuer, `the authorization response's iss is ${callback.get("iss")}`);
  // The request_uri is single use (RFC 9126 §4): the second time, no code.
  const again = await browser(authorize);
  check(!again.searchParams.has("code"), `a second use of the request_uri got a code: ${again}`);
  check(
    again.searchParams.get("error") === "invalid_request_uri",
    `a second use of the request_uri: ${again.searchParams.get("error")}, not invalid_request_uri`,
  );
  // The code is bound to the PAR proof's key (RFC 9449 §10.1): another key's proof is refused
  // with invalid_dpop_proof. Every presentation spends a code in tessera (a stolen code gets one
  // try), so the right key then gets invalid_grant, and the flow starts over.
  if (otherKey) {
    const refused = await nonced(stats, async () =>
      oauth.processAuthorizationCodeResponse(
        as,
        client,
        await oauth.authorizationCodeGrantRequest(as, client, auth, callback, REDIRECT, verifier, {
          DPoP: otherKey,
          ...HTTP,
        }),
      ),
    ).then(
      () => "tokens",
      (error) => error,
    );
    check(
      refused instanceof oauth.ResponseBodyError && refused.error === "invalid_dpop_proof",
      `the code redeemed with another DPoP key: ${refused?.message ?? refused}`,
    );
    const spent = await nonced(stats, async () =>
      oauth.processAuthorizationCodeResponse(
        as,
        client,
        await oauth.authorizationCodeGrantRequest(as, client, auth, callback, REDIRECT, verifier, {
          DPoP: dpop,
          ...HTTP,
        }),
      ),
    ).then(
      () => "tokens",
      (error) => error,
    );
    check(
      spent instanceof oauth.ResponseBodyError && spent.error === "invalid_grant",
      `the code after a refused presentation: ${spent?.message ?? spent}`,
    );
    return pushAndExchange({ as, client, auth, dpop, browser, stats, scope, nonce });
  }
  // Redeemed with DPoP (a fresh proof, the PAR proof's key).
  const tokens = await nonced(stats, async () =>
    oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, callback, REDIRECT, verifier, {
        DPoP: dpop,
        ...HTTP,
      }),
      nonce ? { expectedNonce: nonce, requireIdToken: true } : undefined,
    ),
  );
  check(tokens.token_type === "dpop", `token_type ${tokens.token_type}, not DPoP`);
  check(tokens.access_token, "no access token");
  return tokens;
}

// `/api/me` with DPoP (oauth4webapi's protectedResourceRequest makes the proof with `ath`).
async function whoami(base, token, dpop, stats) {
  const response = await nonced(stats, () =>
    oauth.protectedResourceRequest(token, "GET", new URL(`${base}/api/me`), undefined, undefined, {
      DPoP: dpop,
      ...HTTP,
    }),
  );
  const body = await response.text();
  check(response.status === 200, `/api/me with DPoP: ${response.status} ${body}`);
  return JSON.parse(body);
}

// The same through openid-client (panva's higher-level client on oauth4webapi, which retries
// `use_dpop_nonce` on its own): registration with `jwks` and `private_key_jwt`, PAR with DPoP,
// the code flow with ID token checks (its signature too, against jwks_uri), userinfo, `/api/me`
// and a refresh, all with DPoP.
async function withOpenidClient(issuer, base, browser) {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  );
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", publicKey);
  const kid = "openid-client-key";
  const config = await openid.dynamicClientRegistration(
    issuer,
    {
      client_name: "openid-client peer test",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [{ kty, crv, x, y, kid, alg: "ES256", use: "sig" }] },
    },
    openid.PrivateKeyJwt({ key: privateKey, kid }),
    // Non-repudiation: the ID token's signature is checked against jwks_uri too.
    { execute: [openid.allowInsecureRequests, openid.enableNonRepudiationChecks] },
  );
  check(config.serverMetadata().issuer === issuer.href.replace(/\/$/, ""), "openid-client: issuer");
  const DPoP = openid.getDPoPHandle(config, await openid.randomDPoPKeyPair("ES256"));
  const pkceCodeVerifier = openid.randomPKCECodeVerifier();
  const expectedState = openid.randomState();
  const expectedNonce = openid.randomNonce();
  const authorize = await openid.buildAuthorizationUrlWithPAR(
    config,
    {
      redirect_uri: REDIRECT,
      scope: "openid profile email whoami offline_access",
      state: expectedState,
      nonce: expectedNonce,
      code_challenge: await openid.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: "S256",
    },
    { DPoP },
  );
  check(authorize.searchParams.has("request_uri"), `openid-client: no request_uri in ${authorize}`);
  const tokens = await openid.authorizationCodeGrant(
    config,
    await browser(authorize),
    { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true },
    undefined,
    { DPoP },
  );
  check(tokens.token_type === "dpop", `openid-client: token_type ${tokens.token_type}`);
  const claims = tokens.claims();
  check(claims?.preferred_username === "demo" && claims.email === "demo@example.com", "openid-client: ID token claims");
  const userinfo = await openid.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP });
  check(userinfo.name === "Demo User", `openid-client: userinfo ${JSON.stringify(userinfo)}`);
  const me = await openid.fetchProtectedResource(
    config,
    tokens.access_token,
    new URL(`${base}/api/me`),
    "GET",
    undefined,
    undefined,
    { DPoP },
  );
  const body = await me.text();
  check(me.status === 200 && JSON.parse(body).username === "demo", `openid-client: /api/me ${me.status} ${body}`);
  const refreshed = await openid.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  check(refreshed.token_type === "dpop" && refreshed.access_token, "openid-client: refresh");
}

async function run(flags) {
  const base = await start(flags);
  const requirePar = flags.includes("--require-par");
  const issuer = new URL(base);
  const { as, oidc } = await discover(issuer, requirePar);
  const { client, auth } = await register(as);
  const dpopKeys = await oauth.generateKeyPair("ES256");
  const dpop = oauth.DPoP(client, dpopKeys);
  const browser = newBrowser(base);
  const stats = { nonceRetries: 0 };

  const otherDpop = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
  const tokens = await pushAndExchange({
    as,
    client,
    auth,
    dpop,
    browser,
    stats,
    scope: "whoami offline_access",
    otherKey: otherDpop,
  });
  check(tokens.refresh_token, "no refresh token with offline_access");
  const me = await whoami(base, tokens.access_token, dpop, stats);
  check(me.username === "demo", `/api/me answered ${JSON.stringify(me)}`);
  check(me.client_id === client.client_id, `/api/me's client_id is ${me.client_id}`);
  // The DPoP-bound token presented as a bearer token: 401 invalid_token (RFC 9449 §7.1).
  const asBearer = await oauth
    .protectedResourceRequest(tokens.access_token, "GET", new URL(`${base}/api/me`), undefined, undefined, HTTP)
    .then(
      (response) => `${response.status}`,
      (error) => error,
    );
  check(
    asBearer instanceof oauth.WWWAuthenticateChallengeError &&
      asBearer.status === 401 &&
      asBearer.cause.some((c) => c.parameters.error === "invalid_token"),
    `the DPoP-bound token as Bearer: ${asBearer?.message ?? asBearer}`,
  );

  // Refresh with DPoP: a new DPoP token that works at /api/me.
  const refreshed = await nonced(stats, async () =>
    oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, { DPoP: dpop, ...HTTP }),
    ),
  );
  check(refreshed.token_type === "dpop", `refresh: token_type ${refreshed.token_type}, not DPoP`);
  check(refreshed.access_token !== tokens.access_token, "refresh returned the same access token");
  check((await whoami(base, refreshed.access_token, dpop, stats)).username === "demo", "/api/me after refresh");
  // A confidential client's refresh token is not bound to a key (RFC 9449 §5): refreshing with
  // another DPoP key succeeds, and the new access token is bound to that key alone.
  const rekeyed = await nonced(stats, async () =>
    oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token ?? tokens.refresh_token, {
        DPoP: otherDpop,
        ...HTTP,
      }),
    ),
  );
  check(rekeyed.token_type === "dpop", `refresh with another key: token_type ${rekeyed.token_type}`);
  check((await whoami(base, rekeyed.access_token, otherDpop, stats)).username === "demo", "/api/me, new key");
  const stale = await oauth
    .protectedResourceRequest(rekeyed.access_token, "GET", new URL(`${base}/api/me`), undefined, undefined, {
      DPoP: dpop,
      ...HTTP,
    })
    .then(
      (response) => `${response.status}`,
      (error) => error,
    );
  check(
    stale instanceof oauth.WWWAuthenticateChallengeError && stale.status === 401,
    `a token bound to one key, with another key's proof: ${stale?.message ?? stale}`,
  );

  // OpenID Connect through PAR too: the ID token checked by oauth4webapi (iss, aud, nonce,
  // exp, iat, auth_time), userinfo for the same subject.
  const expectedNonce = oauth.generateRandomNonce();
  const signIn = await pushAndExchange({
    as: oidc,
    client,
    auth,
    dpop,
    browser,
    stats,
    scope: "openid profile email",
    nonce: expectedNonce,
  });
  const claims = oauth.getValidatedIdTokenClaims(signIn);
  check(claims?.sub, "no validated ID token claims");
  check(claims.iss === oidc.issuer, `ID token iss ${claims.iss}`);
  check(claims.nonce === expectedNonce, "ID token nonce");
  check(claims.preferred_username === "demo", `ID token preferred_username ${claims.preferred_username}`);
  const userinfo = await nonced(stats, async () =>
    oauth.processUserInfoResponse(
      oidc,
      client,
      claims.sub,
      await oauth.userInfoRequest(oidc, client, signIn.access_token, { DPoP: dpop, ...HTTP }),
    ),
  );
  check(userinfo.sub === claims.sub, "userinfo sub");
  check(userinfo.name === "Demo User", `userinfo name ${userinfo.name}`);
  check(userinfo.email === "demo@example.com" && userinfo.email_verified === true, "userinfo email");

  // --require-par: a plain authorization request is refused (an error redirect, never a code);
  // oauth4webapi reads the error. Without it, the same request gets a code.
  const verifier = oauth.generateRandomCodeVerifier();
  const plain = new URL(as.authorization_endpoint);
  for (const [name, value] of Object.entries({
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    response_type: "code",
    scope: "whoami",
    state: "plain",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  })) {
    plain.searchParams.set(name, value);
  }
  const answer = await browser(plain);
  if (requirePar) {
    let refused;
    try {
      oauth.validateAuthResponse(as, client, answer, "plain");
    } catch (error) {
      refused = error;
    }
    check(refused instanceof oauth.AuthorizationResponseError, `a plain request with --require-par: ${answer}`);
    check(refused.error === "invalid_request", `a plain request with --require-par: ${refused.error}`);
    check(!answer.searchParams.has("code"), "a code without PAR");
  } else {
    check(oauth.validateAuthResponse(as, client, answer, "plain").get("code"), "no code for a plain request");
  }

  await withOpenidClient(issuer, base, browser);

  if (flags.includes("--dpop-nonce")) {
    check(stats.nonceRetries >= 1, "--dpop-nonce: the server never asked for a nonce");
  } else {
    check(stats.nonceRetries === 0, `no --dpop-nonce, yet ${stats.nonceRetries} use_dpop_nonce answers`);
  }
  stop();
  return `[${flags.join(" ") || "no flags"}] ${stats.nonceRetries} nonce retries`;
}

async function main() {
  const runs = [];
  for (const flags of [[], ["--dpop-nonce"], ["--require-par"]]) {
    runs.push(await run(flags));
  }
  console.log(
    "oauth4webapi: ok (discovery, registration with jwks, PAR + private_key_jwt + PKCE + DPoP, " +
      "iss/state, code and refresh with DPoP, /api/me, ID token and userinfo; the same through " +
      `openid-client; ${runs.join("; ")})`,
  );
}

main().then(
  () => {
    clearTimeout(timer);
    if (server) stop();
    process.exit(0);
  },
  (error) =>
    fail(`${error?.stack ?? error}${error?.cause ? `\ncause: ${JSON.stringify(error.cause)}` : ""}`),
);
