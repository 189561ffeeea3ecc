// Makes sure the system pieces the GPU and browser tests need are present:
// Debian's chromium (which also ships SwiftShader's Vulkan ICD) and Mesa 25's lavapipe
// from bookworm-backports. As root on Debian it installs what is missing; otherwise it
// stops with the exact commands to run.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const CHROMIUM = '/usr/bin/chromium';
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';
const BACKPORTS_LIST = '/etc/apt/sources.list.d/bookworm-backports.list';

/**
 * The Debian mirror this machine already uses for bookworm, read from its own apt sources
 * (one-line `.list` files and deb822 `.sources` files), so backports come from the same place.
 */
function debianMirror() {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (name.endsWith('.list') || name.endsWith('.sources')) files.push(`${dir}/${name}`);
    }
  }
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const line of text.split('\n')) {
      const oneLine = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line);
      if (oneLine) return oneLine[1];
    }
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(\S+)/m.exec(stanza);
      const suites = /^Suites:(.*)$/m.exec(stanza);
      const types = /^Types:(.*)$/m.exec(stanza);
      if (!uris || !suites || !types) continue;
      if (types[1].split(/\s+/).includes('deb') && suites[1].split(/\s+/).includes('bookworm')) {
        return uris[1];
      }
    }
  }
  return null;
}

function mesaVersion() {
  try {
    const out = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'mesa-vulkan-drivers'], {
      encoding: 'utf8',
    });
    return Number.parseInt(out.split('.')[0], 10) || 0;
  } catch {
    return 0;
  }
}

const needsChromium = !existsSync(CHROMIUM) || !existsSync(SWIFTSHADER_ICD);
const needsLavapipe = !existsSync(LAVAPIPE_ICD) || mesaVersion() < 25;
if (!needsChromium && !needsLavapipe) process.exit(0);

const mirror = needsLavapipe ? debianMirror() : null;
if (needsLavapipe && !mirror) {
  console.error(
    'The GPU tests need mesa-vulkan-drivers 25 from bookworm-backports, but no Debian bookworm ' +
      'source was found in /etc/apt to take the mirror from. Add a bookworm-backports line for ' +
      `your mirror to ${BACKPORTS_LIST}, then run npm test again.`,
  );
  process.exit(1);
}
const backportsLine = mirror ? ['deb', mirror, 'bookworm-backports', 'main'].join(' ') : '';
const commands = [];
if (needsLavapipe) {
  commands.push(`echo '${backportsLine}' > ${BACKPORTS_LIST}`);
}
commands.push('apt-get update');
if (needsChromium) commands.push('DEBIAN_FRONTEND=noninteractive apt-get install -y chromium');
if (needsLavapipe) {
  commands.push(
    'DEBIAN_FRONTEND=noninteractive apt-get install -y -t bookworm-backports mesa-vulkan-drivers',
  );
}

const isDebian = existsSync('/etc/debian_version');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isDebian || !isRoot) {
  console.error(
    'The GPU and browser tests need Debian packages that are missing ' +
      `(${[needsChromium && 'chromium', needsLavapipe && 'mesa-vulkan-drivers 25 from bookworm-backports'].filter(Boolean).join(', ')}).\n` +
      'Install them as root, then run npm test again:\n\n  ' +
      commands.join(' && \\\n  ') +
      '\n',
  );
  process.exit(1);
}

console.log('Installing system packages for the GPU and browser tests...');
if (needsLavapipe) {
  const present = existsSync(BACKPORTS_LIST) ? readFileSync(BACKPORTS_LIST, 'utf8') : '';
  if (!present.includes(backportsLine)) writeFileSync(BACKPORTS_LIST, backportsLine + '\n');
}
for (const command of commands.filter((c) => !c.startsWith('echo'))) {
  console.log(`$ ${command}`);
  execFileSync('sh', ['-c', command], { stdio: 'inherit' });
}
