// One process per spool directory: two writers appending to and deleting the same segments would corrupt them.
// The lock is SQLite's exclusive lock on a small file: an OS advisory lock that the kernel drops when the holder
// dies (even by SIGKILL), so there are no stale lock files to clean up and no pid guessing (pid 1 in containers).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../errors.js';

export interface DirLock {
  release(): void;
}

const LOCK_FILE = '.lock';

export function lockDirectory(dir: string): DirLock {
  const path = join(dir, LOCK_FILE);
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 0 });
  } catch (error) {
    throw new ConfigError(`cannot create the spool lock ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    db.pragma('journal_mode = MEMORY');
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; with locking_mode EXCLUSIVE it is held until the connection closes.
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER, since TEXT)');
    db.exec('DELETE FROM holder');
    db.prepare('INSERT INTO holder VALUES (?, ?)').run(process.pid, new Date().toISOString());
  } catch (error) {
    db.close();
    const busy = (error as { code?: string }).code?.startsWith('SQLITE_BUSY');
    if (busy) {
      throw new ConfigError(
        `spool directory ${dir} is in use by another otlp-capture process; each instance needs its own data directory`,
      );
    }
    throw new ConfigError(`cannot lock the spool directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      db.close();
    },
  };
}
