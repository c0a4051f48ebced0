// Regenerates docs/configuration.md from the option table (run from the ingest workspace: npm run docs -w @netwatch/ingest).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configurationMarkdown } from '../src/config/docs';

writeFileSync(path.resolve(process.cwd(), '../docs/configuration.md'), configurationMarkdown());
