/**
 * Debian's Chromium for the page tests, driven by playwright-core (never a downloaded browser),
 * started as this machine needs it: headless, no sandbox (root), and no background networking
 * (the closed network refuses those connections, many at a time).
 */
import { resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of the page tests. */
export const ARTIFACTS = resolve(import.meta.dirname, '..', 'test-artifacts');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
