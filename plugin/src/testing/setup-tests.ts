/**
 * Jest setup for the plugin. Frontend tests opt into jsdom per file (`@jest-environment jsdom`); the backend's
 * tests run in node, so browser shims are installed only where there is a window.
 */
import '@testing-library/jest-dom';

if (typeof window !== 'undefined') {
  // jsdom implements neither; @grafana/ui's layout and theme hooks call them on mount.
  if (!window.matchMedia) {
    window.matchMedia = (query: string) =>
      ({
        matches: false,
        media: query,
        onchange: null,
        addListener: () => {},
        removeListener: () => {},
        addEventListener: () => {},
        removeEventListener: () => {},
        dispatchEvent: () => false,
      }) as MediaQueryList;
  }
  // jsdom has no MessageChannel; react-dom/server (imported by @grafana/ui's TruncatedText) schedules with one
  // at import time. A timer-backed pair keeps no handle open, unlike Node's worker_threads ports.
  if (typeof globalThis.MessageChannel === 'undefined') {
    class TimerPort {
      onmessage: ((e: { data: unknown }) => void) | null = null;
      other: TimerPort | null = null;
      postMessage(data: unknown) {
        const target = this.other;
        setTimeout(() => target?.onmessage?.({ data }), 0);
      }
      close() {}
      start() {}
      addEventListener() {}
      removeEventListener() {}
    }
    (globalThis as unknown as { MessageChannel: unknown }).MessageChannel = class {
      port1 = new TimerPort();
      port2 = new TimerPort();
      constructor() {
        this.port1.other = this.port2;
        this.port2.other = this.port1;
      }
    };
  }
  if (typeof globalThis.TextEncoder === 'undefined') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const util = require('node:util');
    Object.assign(globalThis, { TextEncoder: util.TextEncoder, TextDecoder: util.TextDecoder });
  }
  if (!('IntersectionObserver' in window)) {
    // @grafana/ui's scroll indicators observe the menu's ends; nothing scrolls in jsdom.
    (window as unknown as { IntersectionObserver: unknown }).IntersectionObserver = class {
      observe() {}
      unobserve() {}
      disconnect() {}
      takeRecords() {
        return [];
      }
    };
  }
  if (!('ResizeObserver' in window)) {
    (window as unknown as { ResizeObserver: unknown }).ResizeObserver = class {
      observe() {}
      unobserve() {}
      disconnect() {}
    };
  }
}
