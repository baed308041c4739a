// Health probe for the image and the compose services run from it (the slim base has no curl):
// exits 0 when the URL answers 2xx within two seconds, 1 otherwise.
const url = process.argv[2] ?? 'http://127.0.0.1:8080/health';
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
