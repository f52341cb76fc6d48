/** A clock the test moves by hand. */
import type { Clock } from '../../runtime/ports.ts';

export class FakeClock implements Clock {
  constructor(public t = Date.parse('2026-11-29T10:00:00Z')) {}
  now() {
    return this.t;
  }
  advance(ms: number) {
    this.t += ms;
  }
}
