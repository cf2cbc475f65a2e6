/**
 * Appends `value` to the list `map` holds under `key`, in place. Graph indexes (the readers of each tensor) are built
 * with it: copying the list on each append costs O(n²) when one tensor has n readers (a chain's shared constant: a
 * 100,000-node chain took 15 s to analyse that way, 0.6 s this way).
 */
export function appendTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
