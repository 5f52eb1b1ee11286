// Drives examples/mcp_server.rs with the official MCP TypeScript SDK's client (run by .ci/run):
// `node tests/mcp_ts/client.mjs BINARY`. The SDK finds the authorization server from the 401's
// `resource_metadata`, registers (RFC 7591), runs PKCE and sends `resource` (RFC 8707) on its own;
// this script only plays the user's browser (login and consent forms over fetch) and checks that
// `whoami` answers "demo" and that the token request named the resource `ISSUER/mcp`.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

// Never contacted: the browser step reads the final redirect's Location instead.
const REDIRECT = "http://127.0.0.1:9/callback";
const TIMEOUT_MS = 60_000;

const binary = process.argv[2];
if (!binary) {
  console.error("usage: node tests/mcp_ts/client.mjs BINARY");
  process.exit(2);
}

let server;
// The server's log, shown only when the run fails.
let serverLog = "";
function fail(message) {
  process.stderr.write(serverLog);
  console.error(`mcp_ts: FAIL: ${message}`);
  server?.kill();
  process.exit(1);
}
const timer = setTimeout(() => fail(`not done within ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Starts the example on a free port; resolves to its issuer once it prints where it listens.
function start() {
  return new Promise((resolve, reject) => {
    server = spawn(binary, ["--addr", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
    server.stderr.on("data", (chunk) => (serverLog += chunk));
    server.on("error", reject);
    server.on("exit", (code) => reject(new Error(`the server exited early (${code})`)));
    createInterface({ input: server.stdout }).on("line", (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1].replace(/\/$/, ""));
    });
  });
}

// The value of the form field `name` in `html` (the pages quote attributes with `"`).
function field(html, name) {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  check(match, `no field ${name} in the page:\n${html}`);
  return match[1].replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&#x27;", "'")
    .replaceAll("&lt;", "<").replaceAll("&gt;", ">");
}

// The user's browser: follows the authorization URL to the login page, signs `demo` in, allows
// on the consent page and returns the code from the redirect to REDIRECT.
async function signInAndAllow(base, authorize) {
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
  const query = authorize.search.slice(1);
  let response = await browse(authorize);
  for (let step = 0; step < 6; step++) {
    if (response.status >= 300 && response.status < 400) {
      const to = new URL(response.headers.get("location"), base);
      if (to.href.startsWith(REDIRECT)) {
        const error = to.searchParams.get("error");
        check(!error, `the authorization ended in ${error}: ${to.searchParams.get("error_description")}`);
        const code = to.searchParams.get("code");
        check(code, `no code in the redirect ${to}`);
        return code;
      }
      check(to.origin === base, `a redirect away from the server: ${to}`);
      response = await browse(to);
      continue;
    }
    const page = await response.text();
    check(response.status === 200, `${response.status} from ${response.url}:\n${page}`);
    if (page.includes('name="password"')) {
      response = await post("/login", {
        csrf: field(page, "csrf"),
        next: `/authorize?${query}`,
        username: "demo",
        password: "demo",
      });
    } else {
      check(page.includes('name="decision" value="allow"'), `neither login nor consent:\n${page}`);
      response = await post("/consent", { csrf: field(page, "csrf"), request: query, decision: "allow" });
    }
  }
  throw new Error("the authorization flow did not end in a redirect");
}

// The MCP client's session, in memory.
class MemoryProvider {
  constructor() {
    this.pending = undefined;
  }
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return {
      client_name: "tessera mcp_ts test",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(information) {
    this.client = information;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens) {
    this.savedTokens = tokens;
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    check(this.verifier, "no code verifier saved");
    return this.verifier;
  }
  redirectToAuthorization(url) {
    // The SDK does not wait for the user; the code is collected before finishAuth.
    this.pending = url;
  }
}

async function main() {
  const base = await start();
  const mcp = `${base}/mcp`;
  // Every token request the SDK makes, as the form it sent.
  const tokenRequests = [];
  const observe = async (url, init) => {
    if (new URL(url).pathname === "/token" && init?.body !== undefined) {
      tokenRequests.push(new URLSearchParams(init.body.toString()));
    }
    return fetch(url, init);
  };
  const provider = new MemoryProvider();
  const newTransport = () =>
    new StreamableHTTPClientTransport(new URL(mcp), { authProvider: provider, fetch: observe });
  const newClient = () => new Client({ name: "tessera-mcp-ts-test", version: "1.0.0" });

  // First connection: 401, discovery, registration, then the SDK sends the user to authorize.
  const transport = newTransport();
  try {
    await newClient().connect(transport);
    throw new Error("connecting without a token succeeded");
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  check(provider.client?.client_id, "the SDK did not register a client");
  check(provider.pending, "the SDK did not redirect to authorization");
  const authorize = provider.pending;
  check(
    authorize.searchParams.get("resource") === mcp,
    `the authorization request's resource is ${authorize.searchParams.get("resource")}, not ${mcp}`,
  );
  check(authorize.searchParams.get("code_challenge_method") === "S256", "no S256 PKCE challenge");

  const code = await signInAndAllow(base, authorize);
  await transport.finishAuth(code);
  check(tokenRequests.length === 1, `${tokenRequests.length} token requests, not 1`);
  const [exchange] = tokenRequests;
  check(exchange.get("grant_type") === "authorization_code", `grant_type ${exchange.get("grant_type")}`);
  check(
    exchange.get("resource") === mcp,
    `the token request's resource is ${exchange.get("resource")}, not ${mcp}`,
  );
  check(exchange.get("code_verifier"), "the token request carried no code_verifier");
  check(provider.tokens()?.access_token, "no access token saved");

  // Reconnected with the token: the tool answers the signed-in user.
  const client = newClient();
  await client.connect(newTransport());
  const { tools } = await client.listTools();
  const names = tools.map((tool) => tool.name);
  check(names.includes("whoami"), `tools/list has no whoami: ${names.join(", ")}`);
  const result = await client.callTool({ name: "whoami" });
  check(!result.isError, `whoami failed: ${JSON.stringify(result)}`);
  const text = result.content?.filter((block) => block.type === "text").map((block) => block.text);
  check(
    text?.length === 1 && text[0] === "demo",
    `whoami answered ${JSON.stringify(result.content)}, not "demo"`,
  );
  await client.close();
  console.log(`mcp_ts: ok (TypeScript SDK client: discovery, registration, PKCE, resource ${mcp}, whoami = demo)`);
}

main().then(
  () => {
    clearTimeout(timer);
    server?.removeAllListeners("exit");
    server?.kill();
    process.exit(0);
  },
  (error) => fail(error?.stack ?? String(error)),
);
