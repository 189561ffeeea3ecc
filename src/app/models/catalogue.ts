// The curated GGUF catalogue: models on Hugging Face with their quantizations, each pinned to a
// revision (a commit where one was recorded) with the file's exact size and, where known, its
// SHA-256, so a download can be verified and a re-upload cannot change the bytes under a stored
// model. Facts gathered from the repos in November 2026; variants whose size or name was unverified are left
// out, and so are files split into parts (the single-file copy from another repo is used instead).

import type { Architecture } from '../../engine/gguf/architectures';

export interface License {
  id: string;
  name: string;
}

export interface CatalogueVariant {
  quant: string;
  repo: string;
  /** A 40-hex commit, or `main` where no commit was recorded. */
  revision: string;
  file: string;
  bytes: number;
  sha256: string | null;
}

export interface CatalogueModel {
  id: string;
  name: string;
  family: string;
  /** Parameters in billions, for sorting and the size filter. */
  billions: number;
  architecture: Architecture;
  license: License;
  /** Smallest first; the first one recommended where nothing else is known. */
  variants: CatalogueVariant[];
}

const APACHE: License = { id: 'apache-2.0', name: 'Apache License 2.0' };
const QWEN_RESEARCH: License = { id: 'qwen-research', name: 'Qwen Research License' };
const LLAMA_3_1: License = { id: 'llama3.1', name: 'Llama 3.1 Community License' };
const LLAMA_3_2: License = { id: 'llama3.2', name: 'Llama 3.2 Community License' };

type Row = [quant: string, file: string, bytes: number, sha256?: string];

function variants(repo: string, revision: string, rows: Row[]): CatalogueVariant[] {
  return rows.map(([quant, file, bytes, sha256]) => ({
    quant,
    repo,
    revision,
    file,
    bytes,
    sha256: sha256 ?? null,
  }));
}

export const CATALOGUE: CatalogueModel[] = [
  {
    id: 'smollm2-135m-instruct',
    name: 'SmolLM2 135M Instruct',
    family: 'SmolLM2',
    billions: 0.135,
    architecture: 'llama',
    license: APACHE,
    variants: variants(
      'bartowski/SmolLM2-135M-Instruct-GGUF',
      '09816acd5d99df7be770d85ea30822623dab342c',
      [
        [
          'Q4_K_M',
          'SmolLM2-135M-Instruct-Q4_K_M.gguf',
          105_454_432,
          '2e8040ceae7815abe0dcb3540b9995eaa1fa0d2ca9e797d0a635ae4433c68c2d',
        ],
      ],
    ),
  },
  {
    id: 'smollm2-360m-instruct',
    name: 'SmolLM2 360M Instruct',
    family: 'SmolLM2',
    billions: 0.36,
    architecture: 'llama',
    license: APACHE,
    variants: [
      ...variants('bartowski/SmolLM2-360M-Instruct-GGUF', 'main', [
        [
          'Q4_K_M',
          'SmolLM2-360M-Instruct-Q4_K_M.gguf',
          270_590_880,
          '2fa3f013dcdd7b99f9b237717fa0b12d75bbb89984cc1274be1471a465bac9c2',
        ],
      ]),
      ...variants(
        'unsloth/SmolLM2-360M-Instruct-GGUF',
        '391ed11137586e383b1be0fab9acf01d282c2e11',
        [
          [
            'Q5_K_M',
            'SmolLM2-360M-Instruct-Q5_K_M.gguf',
            289_944_160,
            '0d3040f47b83cd279fc653877059829cbd6e17f972f82a03f686f7d5f3834440',
          ],
        ],
      ),
      ...variants('HuggingFaceTB/SmolLM2-360M-Instruct-GGUF', 'main', [
        ['Q8_0', 'smollm2-360m-instruct-q8_0.gguf', 386_404_992],
      ]),
    ],
  },
  {
    id: 'qwen2.5-0.5b-instruct',
    name: 'Qwen2.5 0.5B Instruct',
    family: 'Qwen2.5',
    billions: 0.5,
    architecture: 'qwen2',
    license: APACHE,
    variants: variants(
      'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
      '9217f5db79a29953eb74d5343926648285ec7e67',
      [
        ['Q4_K_M', 'qwen2.5-0.5b-instruct-q4_k_m.gguf', 491_400_032],
        ['Q5_K_M', 'qwen2.5-0.5b-instruct-q5_k_m.gguf', 522_186_592],
        ['Q6_K', 'qwen2.5-0.5b-instruct-q6_k.gguf', 650_379_104],
        ['Q8_0', 'qwen2.5-0.5b-instruct-q8_0.gguf', 675_710_816],
        ['F16', 'qwen2.5-0.5b-instruct-fp16.gguf', 1_266_425_696],
      ],
    ),
  },
  {
    id: 'qwen3-0.6b',
    name: 'Qwen3 0.6B',
    family: 'Qwen3',
    billions: 0.6,
    architecture: 'qwen3',
    license: APACHE,
    variants: [
      ...variants('unsloth/Qwen3-0.6B-GGUF', '50968a4468ef4233ed78cd7c3de230dd1d61a56b', [
        ['Q4_K_M', 'Qwen3-0.6B-Q4_K_M.gguf', 396_705_472],
        ['Q5_K_M', 'Qwen3-0.6B-Q5_K_M.gguf', 444_415_680],
        ['Q6_K', 'Qwen3-0.6B-Q6_K.gguf', 495_107_776],
      ]),
      ...variants('Qwen/Qwen3-0.6B-GGUF', '23749fefcc72300e3a2ad315e1317431b06b590a', [
        [
          'Q8_0',
          'Qwen3-0.6B-Q8_0.gguf',
          639_446_688,
          '9465e63a22add5354d9bb4b99e90117043c7124007664907259bd16d043bb031',
        ],
      ]),
      ...variants('unsloth/Qwen3-0.6B-GGUF', '50968a4468ef4233ed78cd7c3de230dd1d61a56b', [
        ['BF16', 'Qwen3-0.6B-BF16.gguf', 1_198_182_848],
      ]),
    ],
  },
  {
    id: 'llama-3.2-1b-instruct',
    name: 'Llama 3.2 1B Instruct',
    family: 'Llama 3.2',
    billions: 1.24,
    architecture: 'llama',
    license: LLAMA_3_2,
    variants: variants(
      'bartowski/Llama-3.2-1B-Instruct-GGUF',
      '067b946cf014b7c697f3654f621d577a3e3afd1c',
      [
        [
          'Q4_K_M',
          'Llama-3.2-1B-Instruct-Q4_K_M.gguf',
          807_694_464,
          '6f85a640a97cf2bf5b8e764087b1e83da0fdb51d7c9fab7d0fece9385611df83',
        ],
        ['Q5_K_M', 'Llama-3.2-1B-Instruct-Q5_K_M.gguf', 911_503_488],
        ['Q6_K', 'Llama-3.2-1B-Instruct-Q6_K.gguf', 1_021_800_576],
        ['Q8_0', 'Llama-3.2-1B-Instruct-Q8_0.gguf', 1_321_083_008],
        ['F16', 'Llama-3.2-1B-Instruct-f16.gguf', 2_479_595_360],
      ],
    ),
  },
  {
    id: 'qwen2.5-1.5b-instruct',
    name: 'Qwen2.5 1.5B Instruct',
    family: 'Qwen2.5',
    billions: 1.5,
    architecture: 'qwen2',
    license: APACHE,
    variants: variants(
      'Qwen/Qwen2.5-1.5B-Instruct-GGUF',
      '91cad51170dc346986eccefdc2dd33a9da36ead9',
      [
        ['Q4_K_M', 'qwen2.5-1.5b-instruct-q4_k_m.gguf', 1_117_320_736],
        ['Q5_K_M', 'qwen2.5-1.5b-instruct-q5_k_m.gguf', 1_285_494_304],
        [
          'Q6_K',
          'qwen2.5-1.5b-instruct-q6_k.gguf',
          1_464_178_720,
          'e16d94f3b1eb243f6f6be9eee51090ef5dfd741324394fd5b6e0e425c33df5c7',
        ],
        [
          'Q8_0',
          'qwen2.5-1.5b-instruct-q8_0.gguf',
          1_894_532_128,
          'd7efb072e7724d25048a4fda0a3e10b04bdef5d06b1403a1c93bd9f1240a63c8',
        ],
        ['F16', 'qwen2.5-1.5b-instruct-fp16.gguf', 3_560_416_288],
      ],
    ),
  },
  {
    id: 'qwen3-1.7b',
    name: 'Qwen3 1.7B',
    family: 'Qwen3',
    billions: 1.7,
    architecture: 'qwen3',
    license: APACHE,
    variants: variants('unsloth/Qwen3-1.7B-GGUF', 'd7f544eead698dbd1f15126ef60b45a1e1933222', [
      ['Q4_K_M', 'Qwen3-1.7B-Q4_K_M.gguf', 1_107_409_472],
      ['Q5_K_M', 'Qwen3-1.7B-Q5_K_M.gguf', 1_257_880_128],
      ['Q6_K', 'Qwen3-1.7B-Q6_K.gguf', 1_417_755_200],
      ['Q8_0', 'Qwen3-1.7B-Q8_0.gguf', 1_834_426_944],
      ['BF16', 'Qwen3-1.7B-BF16.gguf', 3_447_349_568],
    ]),
  },
  {
    id: 'smollm2-1.7b-instruct',
    name: 'SmolLM2 1.7B Instruct',
    family: 'SmolLM2',
    billions: 1.7,
    architecture: 'llama',
    license: APACHE,
    variants: [
      ...variants(
        'HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF',
        '2d4a76a30b4af41ecd395c35725ac11688d4cfe4',
        [
          [
            'Q4_K_M',
            'smollm2-1.7b-instruct-q4_k_m.gguf',
            1_055_609_536,
            'decd2598bc2c8ed08c19adc3c8fdd461ee19ed5708679d1c54ef54a5a30d4f33',
          ],
        ],
      ),
      ...variants(
        'bartowski/SmolLM2-1.7B-Instruct-GGUF',
        '1f03464768bfcc0319fc50da8ff5fb20b6417ba2',
        [
          ['Q5_K_M', 'SmolLM2-1.7B-Instruct-Q5_K_M.gguf', 1_225_479_136],
          ['Q6_K', 'SmolLM2-1.7B-Instruct-Q6_K.gguf', 1_405_965_280],
          ['Q8_0', 'SmolLM2-1.7B-Instruct-Q8_0.gguf', 1_820_414_944],
          ['F16', 'SmolLM2-1.7B-Instruct-f16.gguf', 3_424_735_936],
        ],
      ),
    ],
  },
  {
    id: 'qwen2.5-3b-instruct',
    name: 'Qwen2.5 3B Instruct',
    family: 'Qwen2.5',
    billions: 3.1,
    architecture: 'qwen2',
    license: QWEN_RESEARCH,
    variants: variants(
      'Qwen/Qwen2.5-3B-Instruct-GGUF',
      '7dabda4d13d513e3e842b20f0d435c732f172cbe',
      [
        [
          'Q4_K_M',
          'qwen2.5-3b-instruct-q4_k_m.gguf',
          2_104_932_768,
          '626b4a6678b86442240e33df819e00132d3ba7dddfe1cdc4fbb18e0a9615c62d',
        ],
        ['Q5_K_M', 'qwen2.5-3b-instruct-q5_k_m.gguf', 2_438_740_384],
        ['Q6_K', 'qwen2.5-3b-instruct-q6_k.gguf', 2_793_410_976],
        ['Q8_0', 'qwen2.5-3b-instruct-q8_0.gguf', 3_616_088_480],
      ],
    ),
  },
  {
    id: 'llama-3.2-3b-instruct',
    name: 'Llama 3.2 3B Instruct',
    family: 'Llama 3.2',
    billions: 3.21,
    architecture: 'llama',
    license: LLAMA_3_2,
    variants: variants(
      'unsloth/Llama-3.2-3B-Instruct-GGUF',
      'e7d0997e49c9cb00d88b4c1a6a16aa894b0bbc31',
      [
        ['Q4_K_M', 'Llama-3.2-3B-Instruct-Q4_K_M.gguf', 2_019_377_600],
        ['Q5_K_M', 'Llama-3.2-3B-Instruct-Q5_K_M.gguf', 2_322_153_920],
        ['Q6_K', 'Llama-3.2-3B-Instruct-Q6_K.gguf', 2_643_853_760],
        ['Q8_0', 'Llama-3.2-3B-Instruct-Q8_0.gguf', 3_421_898_816],
        ['F16', 'Llama-3.2-3B-Instruct-F16.gguf', 6_433_687_616],
      ],
    ),
  },
  {
    id: 'qwen3-4b',
    name: 'Qwen3 4B',
    family: 'Qwen3',
    billions: 4.0,
    architecture: 'qwen3',
    license: APACHE,
    variants: variants('Qwen/Qwen3-4B-GGUF', 'bc640142c66e1fdd12af0bd68f40445458f3869b', [
      [
        'Q4_K_M',
        'Qwen3-4B-Q4_K_M.gguf',
        2_497_280_256,
        '7485fe6f11af29433bc51cab58009521f205840f5b4ae3a32fa7f92e8534fdf5',
      ],
      ['Q5_0', 'Qwen3-4B-Q5_0.gguf', 2_823_710_976],
      ['Q5_K_M', 'Qwen3-4B-Q5_K_M.gguf', 2_889_513_184],
      ['Q6_K', 'Qwen3-4B-Q6_K.gguf', 3_306_260_704],
      ['Q8_0', 'Qwen3-4B-Q8_0.gguf', 4_280_404_704],
    ]),
  },
  {
    id: 'mistral-7b-instruct-v0.3',
    name: 'Mistral 7B Instruct v0.3',
    family: 'Mistral',
    billions: 7.25,
    architecture: 'llama',
    license: APACHE,
    variants: variants(
      'bartowski/Mistral-7B-Instruct-v0.3-GGUF',
      '61fd4167fff3ab01ee1cfe0da183fa27a944db48',
      [
        ['Q4_K_M', 'Mistral-7B-Instruct-v0.3-Q4_K_M.gguf', 4_372_812_000],
        ['Q5_K_M', 'Mistral-7B-Instruct-v0.3-Q5_K_M.gguf', 5_136_175_328],
        ['Q6_K', 'Mistral-7B-Instruct-v0.3-Q6_K.gguf', 5_947_248_864],
        ['Q8_0', 'Mistral-7B-Instruct-v0.3-Q8_0.gguf', 7_702_565_088],
      ],
    ),
  },
  {
    id: 'qwen2.5-7b-instruct',
    name: 'Qwen2.5 7B Instruct',
    family: 'Qwen2.5',
    billions: 7.6,
    architecture: 'qwen2',
    license: APACHE,
    // The official repo splits this model into parts; this copy is a single file.
    variants: variants('bartowski/Qwen2.5-7B-Instruct-GGUF', 'main', [
      [
        'Q4_K_M',
        'Qwen2.5-7B-Instruct-Q4_K_M.gguf',
        4_683_074_240,
        '65b8fcd92af6b4fefa935c625d1ac27ea29dcb6ee14589c55a8f115ceaaa1423',
      ],
    ]),
  },
  {
    id: 'llama-3.1-8b-instruct',
    name: 'Llama 3.1 8B Instruct',
    family: 'Llama 3.1',
    billions: 8.03,
    architecture: 'llama',
    license: LLAMA_3_1,
    variants: variants(
      'bartowski/Meta-Llama-3.1-8B-Instruct-GGUF',
      'bf5b95e96dac0462e2a09145ec66cae9a3f12067',
      [
        ['Q4_K_M', 'Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf', 4_920_739_232],
        ['Q5_K_M', 'Meta-Llama-3.1-8B-Instruct-Q5_K_M.gguf', 5_732_992_416],
        ['Q6_K', 'Meta-Llama-3.1-8B-Instruct-Q6_K.gguf', 6_596_011_424],
        ['Q8_0', 'Meta-Llama-3.1-8B-Instruct-Q8_0.gguf', 8_540_775_840],
      ],
    ),
  },
  {
    id: 'qwen3-8b',
    name: 'Qwen3 8B',
    family: 'Qwen3',
    billions: 8.2,
    architecture: 'qwen3',
    license: APACHE,
    variants: variants('Qwen/Qwen3-8B-GGUF', '7c41481f57cb95916b40956ab2f0b139b296d974', [
      [
        'Q4_K_M',
        'Qwen3-8B-Q4_K_M.gguf',
        5_027_783_488,
        'd98cdcbd03e17ce47681435b5150e34c1417f50b5c0019dd560e4882c5745785',
      ],
      ['Q5_0', 'Qwen3-8B-Q5_0.gguf', 5_720_761_152],
      [
        'Q5_K_M',
        'Qwen3-8B-Q5_K_M.gguf',
        5_851_112_224,
        '068bae163faa96ad48032daf4e071a6a28fe67d8dcc95367609c2ff165e52738',
      ],
      ['Q6_K', 'Qwen3-8B-Q6_K.gguf', 6_725_899_040],
      ['Q8_0', 'Qwen3-8B-Q8_0.gguf', 8_709_518_112],
    ]),
  },
];

export function downloadUrl(variant: CatalogueVariant): string {
  return `https://huggingface.co/${variant.repo}/resolve/${variant.revision}/${variant.file}`;
}

/** A stable id for one variant, used for the store and the chosen model. */
export function variantId(model: CatalogueModel, variant: CatalogueVariant): string {
  return `${model.id}:${variant.quant.toLowerCase()}`;
}
