// Paths in a profile's stack trie: what a node's path from the root (its outermost frame down to
// it) adds up to, computed once per node by walking up to the nearest node already known and
// filling in downwards, without recursion (stacks can be 16k frames deep). Every renderer and
// transform that needs a node's stack, its depth or its place in another tree goes through here.
// Must not know: the core, the reader, the terminal, any output format; only the trie's arrays.
// Source of truth: host/profile/profile.ts (the Profile shape: nodeParent[i] is -1 at the root
// level; a parent outside the trie counts as the root level too).

import type { Profile } from "./profile.js";

/**
 * A memoised fold along every node's path: valueOf(node) is step(valueOf(parent), node), where
 * the value above the root level (a parent of -1, or outside the trie) is `root`; a node outside
 * the trie has the value `root` too. Each node's step runs once. step must not call valueOf.
 * A trie with a cycle (never made by wspy; a decoded recording is checked for one) ends each walk
 * after as many steps as there are nodes, the rest counting as the root level.
 */
export function pathFold<T>(nodeParent: ArrayLike<number>, root: T, step: (prefix: T, node: number) => T): (node: number) => T {
  const nNodes = nodeParent.length;
  const memo: (T | undefined)[] = new Array(nNodes);
  const chain: number[] = [];
  return (node: number): T => {
    if (!(node >= 0 && node < nNodes)) return root;
    const known = memo[node];
    if (known !== undefined) return known;
    let n = node;
    for (let guard = 0; n >= 0 && n < nNodes && memo[n] === undefined && guard <= nNodes; guard++) {
      chain.push(n);
      n = nodeParent[n];
    }
    let value = n >= 0 && n < nNodes && memo[n] !== undefined ? (memo[n] as T) : root;
    for (let i = chain.length - 1; i >= 0; i--) {
      value = step(value, chain[i]);
      memo[chain[i]] = value;
    }
    chain.length = 0;
    return value;
  };
}

export interface StackPaths {
  /** the node's depth: 0 at the root level (-1 for a node outside the trie) */
  depthOf(node: number): number;
  /** the nodes on the node's path, root first, the node last ([] outside the trie) */
  nodesOf(node: number): number[];
  /** the frame ids on the node's path, outermost first */
  framesOf(node: number): number[];
}

/**
 * Depths memoised per node; paths made on demand in one array each (memoising every node's
 * whole path would cost depth² for a deep stack).
 */
export function stackPaths(profile: Pick<Profile, "nodeParent" | "nodeFrame">): StackPaths {
  const { nodeParent, nodeFrame } = profile;
  const depthOf = pathFold(nodeParent, -1, (d) => d + 1);
  const nodesOf = (node: number): number[] => {
    const d = depthOf(node);
    const path = new Array<number>(d + 1);
    for (let n = node, i = d; i >= 0 && n >= 0; i--, n = nodeParent[n]) path[i] = n;
    return path;
  };
  const framesOf = (node: number): number[] => {
    const path = nodesOf(node);
    for (let i = 0; i < path.length; i++) path[i] = nodeFrame[path[i]];
    return path;
  };
  return { depthOf, nodesOf, framesOf };
}
