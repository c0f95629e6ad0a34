// What the numbers were measured on.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
  /** `df -T` of the directory the data was written under. */
  disk: string;
  /** The commit measured, with "+dirty" when the working tree had changes. */
  commit: string;
}

function describeCommit(repo: string): string {
  try {
    const head = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(dataParent: string, repo: string = process.cwd()): MachineInfo {
  let disk = 'unknown';
  try {
    disk = execFileSync('df', ['-hT', dataParent], { encoding: 'utf8' }).trim().split('\n').slice(1).join('; ').replace(/\s+/g, ' ');
  } catch {
    // df missing: leave unknown
  }
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    disk,
    commit: describeCommit(repo),
  };
}
