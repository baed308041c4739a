import type { OrlaError } from '../../errors.js';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from '../../upstream/clients/types.js';
import { track } from './request-work.js';

/** An engine client whose requests, and whole-body reads, the request's waitUntil covers (memory's cache calls run after the answer). */
export class TrackedUpstream implements UpstreamClient {
  readonly url: string;

  constructor(private readonly inner: UpstreamClient) {
    this.url = inner.url;
  }

  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    const response = await track(this.inner.request(request));
    return { ...response, readAll: () => track(response.readAll()) };
  }

  describeError(err: unknown, backend: string): OrlaError {
    return this.inner.describeError(err, backend);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
