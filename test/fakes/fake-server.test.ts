// The fakes' own hygiene: a fake closed while a deliberately slow answer is still waiting leaves
// nothing that keeps the test process alive (Jest's "did not exit one second after the test run").
import { describe, expect, jest, test } from '@jest/globals';
import { request } from 'node:http';
import { startOpenAIFake } from '#test/fakes/openai-fake.ts';

describe('fake servers', () => {
  test('a slow answer whose client left does not hold the process open once the fake is closed', async () => {
    const real = globalThis.setTimeout;
    const delays: NodeJS.Timeout[] = [];
    const spy = jest.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const timer = real(fn, ms);
      if (ms === 60_000) delays.push(timer);
      return timer;
    }) as typeof setTimeout);
    const fake = await startOpenAIFake({ delayHeadersMs: 60_000 });
    try {
      const req = request(`${fake.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ model: 'm', messages: [] }));
      while (fake.requests.length === 0) await new Promise((r) => real(r, 5));
      req.destroy();
    } finally {
      await fake.close();
      spy.mockRestore();
    }
    expect(delays).toHaveLength(1);
    expect(delays[0]!.hasRef()).toBe(false); // still pending, but it does not keep the process alive
  });
});
