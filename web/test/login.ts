import type { BrowserContext, Page } from 'playwright-core';

/**
 * Logs in through the admin's login form, as staff do, and waits until the login is done: for the answer to the
 * form's POST (its session cookie comes with it; the login page's own `load` has already fired, and a goto right
 * after could cut the POST in flight), then, when `expectSuccess`, for the page it leads to (a fresh system under
 * load renders the dashboard cold), or says why it stayed on the login page.
 */
export async function loginAs(
  ctx: BrowserContext,
  page: Page,
  loginUrl: string,
  username: string,
  password: string,
  options: { expectSuccess?: boolean } = {},
): Promise<void> {
  await ctx.clearCookies();
  await page.goto(loginUrl);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/admin/login/',
      { timeout: 90_000 },
    ),
    page.click('button[type=submit]'),
  ]);
  if (!options.expectSuccess) {
    await page.waitForLoadState('load', { timeout: 90_000 });
    return;
  }
  await page
    .waitForURL((u) => u.pathname !== '/admin/login/', { timeout: 90_000 })
    .catch(async (err) => {
      const why = await page
        .locator('#login-error')
        .textContent({ timeout: 1_000 })
        .catch(() => null);
      throw new Error(`login of ${username} stayed on the login page: ${why ?? '(no message shown)'}`, {
        cause: err,
      });
    });
}
