/** Listening for both running services (the gate's ports and the arbiter's). */
import type http from 'node:http';

/** Listens on host:port; rejects with the listen error (EADDRINUSE, EACCES). */
export function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve((server.address() as import('node:net').AddressInfo).port); });
  });
}
