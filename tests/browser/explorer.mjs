// Drives the explorer at EXPLORER_URL in headless Debian chromium with every
// request to another origin refused: waits for the documentation panel to show
// the schema (loaded through introspection), runs EXPLORER_QUERY with
// EXPLORER_TOKEN in the Headers tab, and prints what the page showed as JSON.
import { chromium } from "playwright-core";

const url = process.env.EXPLORER_URL;
const token = process.env.EXPLORER_TOKEN;
const query = process.env.EXPLORER_QUERY;
const origin = new URL(url).origin;
const timeout = 30_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // Name resolution fails for every host but the server's own address.
  args: ["--no-sandbox", `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${new URL(url).hostname}`],
});
const report = { outside: [], violations: [], pageErrors: [] };
try {
  const context = await browser.newContext();
  await context.route("**/*", (route) => {
    const target = route.request().url();
    if (new URL(target).origin === origin) return route.continue();
    report.outside.push(target);
    return route.abort();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  page.on("pageerror", (error) => report.pageErrors.push(String(error)));

  const response = await page.goto(url);
  report.status = response.status();
  report.csp = response.headers()["content-security-policy"] ?? null;
  await page.waitForSelector(".graphiql-container");

  // The documentation panel lists the root types once introspection succeeded.
  await page.getByLabel("Show Documentation Explorer").click();
  const docs = page.locator(".graphiql-doc-explorer");
  await docs.getByText("Root Types").waitFor();
  await docs.getByRole("link", { name: "Query" }).first().click();
  await docs.locator(".graphiql-doc-explorer-field-name", { hasText: /^me$/ }).first().waitFor();
  report.docs = await docs.innerText();

  // CodeMirror 5 exposes its editor on the wrapper element.
  await page.evaluate((text) => {
    document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(text);
  }, query);
  await page.getByRole("button", { name: "Headers" }).click();
  await page.evaluate((headers) => {
    document
      .querySelector(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
      .CodeMirror.setValue(headers);
  }, JSON.stringify({ Authorization: `Bearer ${token}` }));
  await page.locator(".graphiql-execute-button").click();
  const result = page.locator(".result-window");
  await result.getByText('"data"').waitFor();
  await page.waitForFunction(
    () => !document.querySelector(".result-window").innerText.includes("Loading"),
  );
  report.result = await result.innerText();
  report.violations = await page.evaluate(() => window.__violations);
} catch (error) {
  report.error = String(error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
