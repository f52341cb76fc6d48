/** The audience walk's set of phones: the same answers as a `Set`, through its growth. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PhoneSet } from '../../runtime/campaigns/phoneSet.ts';

test('holds what a Set holds, through growth, with odd values beside', () => {
  const set = new PhoneSet();
  const reference = new Set<string>();
  let seed = 7;
  const random = () => (seed = (seed * 48271) % 2147483647);
  for (let i = 0; i < 50_000; i++) {
    const phone = `+7${String(9_000_000_000 + (random() % 40_000)).padStart(10, '0')}`;
    assert.is(set.has(phone), reference.has(phone));
    set.add(phone);
    reference.add(phone);
  }
  for (const odd of ['anon:abc', '', '+', '+0', '+99999999999999999999']) {
    assert.not.ok(set.has(odd));
    set.add(odd);
    assert.ok(set.has(odd));
    reference.add(odd);
  }
  assert.is(set.size, reference.size);
  assert.ok(set.has('+79001234567') === reference.has('+79001234567'));
  assert.ok(set.has('+380501234567') === false);
  set.add('+380501234567');
  assert.ok(set.has('+380501234567'));
});

test.run();
