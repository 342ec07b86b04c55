import type { TestFn } from 'ava';
import type { Browser } from 'playwright-core';
import { launchChromium, type BrowserNeeds } from './browser.js';
import { startUiStack, type UiStackOptions, type UiStack } from './uiStack.js';
import { sharedFixture } from '../../helpers/fixture.js';

/** The UI stack (web, worker, simulators) and a headless Chromium, started side by side. */
interface BrowserStack {
  stack: UiStack;
  browser: Browser;
  close(): Promise<void>;
}

async function startBrowserStack(opts: UiStackOptions, needs: BrowserNeeds): Promise<BrowserStack> {
  const [stack, browser] = await Promise.allSettled([startUiStack(opts), launchChromium(needs)]);
  if (stack.status === 'rejected' || browser.status === 'rejected') {
    // One of them started: close it before failing, or the file's process never exits.
    if (browser.status === 'fulfilled') await browser.value.close();
    if (stack.status === 'fulfilled') await stack.value.closeAll();
    throw stack.status === 'rejected' ? stack.reason : (browser as PromiseRejectedResult).reason;
  }
  return {
    stack: stack.value, browser: browser.value,
    async close() {
      await browser.value.close();
      await stack.value.closeAll();
    },
  };
}

/** A browser stack for the whole file: `useBrowserStack(test, opts, (b) => ({ stack, browser } = b))`. */
export function useBrowserStack(test: TestFn, opts: UiStackOptions, started: (b: BrowserStack) => unknown, needs: BrowserNeeds = {}): void {
  sharedFixture(test, () => startBrowserStack(opts, needs), started);
}
