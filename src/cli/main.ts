// The CLI: parse argv, run the command, report. Returns the exit code; never calls process.exit,
// so the whole CLI runs in-process in tests. onnxruntime and Transformers.js are imported only
// once a command needs them, so --help and usage errors answer at once.
import { StdoutClosed } from '../errors.js';
import { writeToStream } from '../output/stream.js';
import type { CliIo } from './io.js';
import { parseCommandLine } from './parse.js';
import { convertSummary, ProgressLine, quantizeSummary, summaryLine } from './progress.js';
import { reportError } from './report.js';

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let verbose = argv.includes('--verbose');
  const progress = io.stderr.isTTY ? new ProgressLine(io.stderr) : undefined;
  try {
    const parsed = parseCommandLine(argv, {
      env: io.env,
      stdinIsTTY: Boolean(io.stdin.isTTY),
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
    if (parsed.command === 'exit') return parsed.code;
    verbose = parsed.output.verbose;
    const quiet = parsed.output.quiet;
    const notice = (message: string) => {
      progress?.clear();
      // Warnings are about the result (poor int8 drift), not progress: -q keeps them.
      if (!quiet || message.startsWith('warning:')) io.stderr.write(`albert-embed: ${message}\n`);
    };

    if (parsed.command === 'info') {
      const { describeModel, formatModelInfo } = await import('../info.js');
      const info = await describeModel(parsed.embedder, notice, 'cli');
      await writeToStream(io.stdout, parsed.json ? `${JSON.stringify(info, null, 2)}\n` : `${formatModelInfo(info)}\n`);
      return 0;
    }

    if (parsed.command === 'merge') {
      const { mergeParts } = await import('../jobs/merge.js');
      const result = await mergeParts(parsed.parts, parsed.target);
      if (!quiet) io.stderr.write(`albert-embed: merged ${result.parts} parts, ${result.rows.toLocaleString('en-US')} rows, ${result.seconds.toFixed(2)} s -> ${result.output}\n`);
      return 0;
    }

    if (parsed.command === 'convert') {
      const { runConvert } = await import('../convert/run.js');
      const result = await runConvert(parsed.settings, notice);
      if (!quiet) io.stderr.write(`${convertSummary(result)}\n`);
      return 0;
    }

    if (parsed.command === 'quantize') {
      const { runQuantize } = await import('../convert/run.js');
      const result = await runQuantize(parsed.settings, notice);
      if (!quiet) io.stderr.write(`${quantizeSummary(result)}\n`);
      return 0;
    }

    const { runExtract } = await import('../extract.js');
    const summary = await runExtract(
      parsed.settings,
      {
        stdin: io.stdin,
        stdout: io.stdout,
        notice,
        onProgress: progress && !quiet ? (stats) => progress.update(stats) : undefined,
      },
      'cli',
    );
    progress?.clear();
    if (!quiet) io.stderr.write(`${summaryLine(summary)}\n`);
    return 0;
  } catch (err) {
    progress?.clear();
    // The reader of stdout went away: what it wanted, it got; nothing to report.
    if (err instanceof StdoutClosed) return 0;
    return reportError(err, io.stderr, verbose);
  }
}
