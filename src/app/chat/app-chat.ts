// The chat lives as long as the app, not as long as the Chat view: an answer keeps streaming while
// another view is open, and coming back shows it (and its Stop button) instead of a fresh state
// that would let a second request start on the same engine.
import { session } from '../session.svelte';
import { settingsState } from '../settings/settings.svelte';
import { ChatState } from './chat.svelte';
import { ConversationStore } from '../../store/conversations';
import { documentsState } from '../documents/documents.svelte';

// The documents a conversation attaches are searched as the Documents view searches them (its
// top-k and similarity floor, its worker and its index).
export const chat = new ChatState(
  session,
  new ConversationStore(),
  async () => {
    await settingsState.load();
    return settingsState.value.systemPrompt;
  },
  documentsState,
);
