import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const workflow = '.github/workflows/pr.yml';

/** actionlint from scripts/setup.sh (.tools/bin) or anywhere on PATH. */
function findActionlint(): string | undefined {
  const dirs = [join('.tools', 'bin'), ...(process.env.PATH ?? '').split(delimiter)];
  return dirs.map((dir) => join(dir, 'actionlint')).find((path) => existsSync(path));
}

describe('pull-request workflow (checks the rendered configs in CI)', () => {
  const actionlint = findActionlint();

  // CI builds actionlint (scripts/setup.sh), so the check always runs there.
  it.skipIf(actionlint === undefined && !process.env.CI)('passes actionlint', () => {
    const result = spawnSync(actionlint ?? 'actionlint', ['-no-color', workflow], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('runs the render check and the README test command, and diffs changed stacks into the job summary', () => {
    const jobs = (parse(readFileSync(workflow, 'utf8')) as { jobs: Record<string, { steps: { run?: string }[] }> })
      .jobs;
    const runs = (job: string): string[] => (jobs[job]?.steps ?? []).flatMap((s) => (s.run ? [s.run] : []));
    expect(runs('test')).toEqual(
      expect.arrayContaining(['bash scripts/setup.sh', 'npm run --silent render -- --check', 'bash .ci/run']),
    );
    const diffStep = runs('stack-diff').join('\n');
    expect(diffStep).toContain("git diff --name-only \"${base}...HEAD\" -- 'stacks/Pulumi.*.yaml'");
    expect(diffStep).toContain('npm run --silent diff -- "${base_dir}/${name}" "${stack}" --markdown');
    expect(diffStep).toContain('>> "${GITHUB_STEP_SUMMARY}"');
  });
});
