// The settings the whole app reads (planner wishes, engine options), loaded once and saved on
// every change.
import { DEFAULT_SETTINGS, loadSettings, saveSettings, type Settings } from '../../store/settings';

class SettingsState {
  value = $state<Settings>({ ...DEFAULT_SETTINGS });
  loaded = $state(false);
  /** Set when the last save failed, so the view can say the change is not kept. */
  error = $state<string | null>(null);
  /** Saves not yet written (the view is busy until they are). */
  private pending = $state(0);
  private loading: Promise<Settings> | null = null;

  /** Whether a change is still being written to the browser's storage. */
  get saving(): boolean {
    return this.pending > 0;
  }

  load(): Promise<Settings> {
    this.loading ??= loadSettings().then(
      (settings) => {
        this.value = settings;
        this.loaded = true;
        return settings;
      },
      (error: unknown) => {
        this.error = `Could not read saved settings (${describe(error)}); using the defaults.`;
        this.loaded = true;
        return this.value;
      },
    );
    return this.loading;
  }

  async update(patch: Partial<Settings>): Promise<void> {
    this.value = { ...this.value, ...patch };
    this.pending++;
    try {
      this.value = await saveSettings($state.snapshot(this.value));
      this.error = null;
    } catch (error) {
      this.error = `Could not save settings (${describe(error)}): the change lasts until the page is closed. Check that the browser allows this site to store data.`;
    } finally {
      this.pending--;
    }
  }

  reset(): Promise<void> {
    return this.update({ ...DEFAULT_SETTINGS });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const settingsState = new SettingsState();
