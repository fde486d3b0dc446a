import type { Endpoint } from './options.js';

interface Route {
  readonly upstream: Endpoint;
  readonly expiresAt: number;
}

/**
 * Routes installed ahead of traffic, per listener and routing key. They are
 * consulted once per new flow (when TS answers it), so they live in TS; the
 * native side only ever sees the resolved upstream.
 */
export class RouteTable {
  private readonly byListener = new Map<number, Map<string, Route>>();

  install(listener: number, key: string, upstream: Endpoint, expiresAt: number): void {
    let routes = this.byListener.get(listener);
    if (routes === undefined) {
      routes = new Map();
      this.byListener.set(listener, routes);
    }
    routes.set(key, { upstream, expiresAt });
  }

  remove(listener: number, key: string): boolean {
    return this.byListener.get(listener)?.delete(key) ?? false;
  }

  lookup(listener: number, key: string, now: number): Endpoint | null {
    const routes = this.byListener.get(listener);
    const route = routes?.get(key);
    if (route === undefined) return null;
    if (route.expiresAt <= now) {
      routes?.delete(key);
      return null;
    }
    return route.upstream;
  }
}
