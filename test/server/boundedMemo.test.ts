import test from 'ava';
import { boundedMemo } from '../../server/boundedMemo.js';

// The per-process memos' one bound (route matches, HMACs, cookie signatures, chain heads…): a new key
// coming to a full memo starts it over; everything else is a Map's.

test('keeps up to its cap, then a new key starts it over with only that key', (t) => {
  const memo = boundedMemo<string, number>(3);
  memo.set('a', 1).set('b', 2).set('c', 3);
  t.deepEqual([...memo], [['a', 1], ['b', 2], ['c', 3]]);
  memo.set('d', 4);
  t.deepEqual([...memo], [['d', 4]], 'full: the old entries went, the new one is kept');
  t.is(memo.get('a'), undefined);
  t.is(memo.get('d'), 4);
});

test('changing a key it holds never empties it, full or not', (t) => {
  const memo = boundedMemo<string, number>(2);
  memo.set('a', 1).set('b', 2);
  memo.set('a', 10);
  t.deepEqual([...memo], [['a', 10], ['b', 2]]);
});

test('a deleted key makes room without starting over', (t) => {
  const memo = boundedMemo<string, number>(2);
  memo.set('a', 1).set('b', 2);
  t.true(memo.delete('a'));
  memo.set('c', 3);
  t.deepEqual([...memo], [['b', 2], ['c', 3]]);
  t.is(memo.max, 2);
  t.true(memo instanceof Map, 'a Map wherever one is expected');
});
