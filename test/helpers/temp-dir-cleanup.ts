// A vitest setup file (it runs in each test file's context): what tempDir() made goes after the file.
import { afterAll } from 'vitest';
import { removeTempDirs } from './temp-dir';

afterAll(removeTempDirs);
