// Makes sure the system pieces the GPU and browser tests need are present:
// Debian's chromium (which also ships SwiftShader's Vulkan ICD) and Mesa 25's lavapipe
// from bookworm-backports. As root on Debian it installs what is missing; otherwise it
// stops with the exact commands to run.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const CHROMIUM = '/usr/bin/chromium';
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';
const BACKPORTS_LIST = '/etc/apt/sources.list.d/bookworm-backports.list';
const BACKPORTS_LINE = 'deb http://deb.debian.org/debian bookworm-backports main';

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

const commands = [];
if (needsLavapipe) {
  commands.push(`echo '${BACKPORTS_LINE}' > ${BACKPORTS_LIST}`);
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
  if (!present.includes(BACKPORTS_LINE)) writeFileSync(BACKPORTS_LIST, BACKPORTS_LINE + '\n');
}
for (const command of commands.filter((c) => !c.startsWith('echo'))) {
  console.log(`$ ${command}`);
  execFileSync('sh', ['-c', command], { stdio: 'inherit' });
}
