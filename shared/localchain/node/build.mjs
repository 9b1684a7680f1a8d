// Compiles ../contracts/*.sol with the pinned solc-js into ../contracts/<Name>.json (ABI + creation bytecode).
// `node build.mjs --check` compiles again and fails when the committed output differs: the build is reproducible.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'contracts');
const check = process.argv.includes('--check');
const sources = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.sol')).sort()) {
  sources[f] = { content: fs.readFileSync(path.join(dir, f), 'utf8') };
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    // No metadata hash: the bytecode depends on the source alone, not on file paths.
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
for (const e of out.errors ?? []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
let stale = 0;
for (const [file, contracts] of Object.entries(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = JSON.stringify({ contract: name, source: file, compiler: solc.version(), abi: c.abi, bytecode: '0x' + c.evm.bytecode.object }, null, 1) + '\n';
    const target = path.join(dir, name + '.json');
    if (check) {
      const committed = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
      if (committed !== artifact) {
        console.error(`${path.relative(process.cwd(), target)} is not what ${file} compiles to: run node build.mjs`);
        stale++;
      }
    } else {
      fs.writeFileSync(target, artifact);
      console.log(`wrote ${target}`);
    }
  }
}
process.exit(stale ? 1 : 0);
