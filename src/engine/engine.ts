// The one interface the app's worker drives, whichever engine runs the model.

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface SamplingOptions {
  /** 0 means greedy (argmax). */
  temperature: number;
  /** 0 disables. */
  topK: number;
  /** 1 disables. */
  topP: number;
  /** 0 disables. */
  minP: number;
  /** 1 disables. */
  repetitionPenalty: number;
  /** How many recent tokens the repetition penalty looks at. */
  repetitionLastN: number;
  seed: number;
}

export const GREEDY: SamplingOptions = {
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  repetitionLastN: 64,
  seed: 0,
};

export interface GenerationOptions {
  maxTokens: number;
  sampling: SamplingOptions;
  /** Extra stop strings besides the model's end-of-generation tokens. */
  stop?: string[];
  signal?: AbortSignal;
}

export type StopReason = 'eos' | 'stop-string' | 'max-tokens' | 'aborted' | 'context-full';

export interface GenerationStats {
  /** Tokens of the prompt as sent to the model, after leaving out turns that did not fit. */
  promptTokens: number;
  /**
   * Prompt tokens the model ran; the rest were already in its KV cache from the previous request.
   * Absent where the engine cannot tell (WebLLM reuses its cache without saying how much).
   */
  prefillTokens?: number;
  /** Messages after the system prompt left out, oldest first, so the conversation fits the context. */
  droppedMessages: number;
  generatedTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  stopReason: StopReason;
  /** The kernel variants the engine runs and how they were chosen, in words (GGUF engine). */
  kernelVariants?: string;
}

export type GenerationEvent =
  { type: 'token'; id: number; text: string } | { type: 'done'; stats: GenerationStats };

export type LoadStage = 'download' | 'cache' | 'upload' | 'compile';

export interface LoadProgress {
  stage: LoadStage;
  loaded: number;
  total: number;
}

export interface ChatEngine {
  readonly kind: 'gguf' | 'webllm' | 'wllama';
  /** The context length the engine was loaded with (KV cache capacity in tokens). */
  readonly contextTokens: number;
  /**
   * Streams the assistant's reply to the conversation (an optional system message, then the turns);
   * the oldest turns are left out when they do not fit the context. The last event is always `done`.
   */
  chat(messages: ChatMessage[], options: GenerationOptions): AsyncGenerator<GenerationEvent>;
  unload(): Promise<void>;
}
