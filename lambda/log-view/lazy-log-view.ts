/**
 * The filtered log view as the proxy builds it: the view itself (and the Parquet writer its
 * checkpoints need, ~75 KB of the bundle) loads on the first request that reads a `_delta_log/`,
 * not at module init.
 */
import type { GeneratedObject } from '../core/generated-object';
import { lazyModule } from '../core/lazy-module';
import type { VirtualFolder } from '../core/listing-filter';
import type {
  FilteredLogView,
  FilteredLogViewOptions,
  FilteredLogViewStats,
  LogView,
  LogViewRequest,
} from './filtered-log-view';

const loadFilteredLogView = lazyModule('the filtered log view', () => import('./filtered-log-view'));

export class LazyLogView implements LogView {
  private view: FilteredLogView | undefined;

  constructor(private readonly opts: FilteredLogViewOptions) {}

  async folder(req: LogViewRequest, relAfter?: string): Promise<VirtualFolder> {
    return (await this.loaded()).folder(req, relAfter);
  }

  async object(req: LogViewRequest, relKey: string): Promise<GeneratedObject | undefined> {
    return (await this.loaded()).object(req, relKey);
  }

  /** What the view holds and did (metrics); undefined until the first `_delta_log/` read loads it. */
  stats(): FilteredLogViewStats | undefined {
    return this.view?.stats();
  }

  private async loaded(): Promise<FilteredLogView> {
    if (this.view) return this.view;
    const { FilteredLogView } = await loadFilteredLogView();
    // Requests that raced to the first load share the first view (and so its cache).
    this.view ??= new FilteredLogView(this.opts);
    return this.view;
  }
}
