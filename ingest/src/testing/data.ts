/**
 * Where tests find the shared real captures and logs (never copied into the repository).
 * NETWATCH_TEST_DATA overrides the default `../shared/data` beside the clone. When the data is absent a
 * test suite is skipped with a visible reason, except in CI (NETWATCH_REQUIRE_TEST_DATA=1) where it fails.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '../../..');

export function testDataDir(): string {
  return process.env.NETWATCH_TEST_DATA ?? path.resolve(repoRoot, '../shared/data');
}

export function testDataPath(...parts: string[]): string {
  return path.join(testDataDir(), ...parts);
}

export function hasTestData(): boolean {
  return existsSync(path.join(testDataDir(), 'pcap')) && existsSync(path.join(testDataDir(), 'logs'));
}

/** `describe` when the shared data is present; otherwise a skipped suite whose name says why (or a failure in CI). */
export function describeWithData(name: string, fn: () => void): void {
  if (hasTestData()) {
    describe(name, fn);
  } else if (process.env.NETWATCH_REQUIRE_TEST_DATA === '1') {
    describe(name, () => {
      it('has the shared test data', () => {
        throw new Error(`shared test data missing at ${testDataDir()} (set NETWATCH_TEST_DATA)`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: shared test data not found at ${testDataDir()}; set NETWATCH_TEST_DATA]`, fn);
  }
}
