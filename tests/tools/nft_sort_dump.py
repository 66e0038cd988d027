#!/usr/bin/env python3
"""Sort an nft dump the way upstream kube-proxy's nftables tests do before comparing
(pkg/proxy/nftables/helpers_test.go sortNFTablesTransaction): blank lines and "#" lines are
dropped; lines are ordered by object type (table, chain, rule, set, map, element), then by the
object's name (the fifth word), rules keeping their order within a chain and other lines of one
object sorted as text. Used to turn upstream's expected dumps into
testdata/golden/nftables/*/expected.txt; tests/golden/nftables_golden_test.cc applies the same
order to kproxy's output (and checks that expected.txt is already sorted).

Usage: nft_sort_dump.py [FILE]   (stdin when FILE is omitted); writes the sorted dump to stdout.
"""
import functools
import sys

ORDER = {'table': 10, 'chain': 9, 'rule': 8, 'set': 7, 'map': 6, 'element': 5}


def compare(li, lj):
    wi, wj = li.split(' '), lj.split(' ')
    if len(wi) < 5 or len(wj) < 5:
        return 0
    if wi[1] != wj[1]:
        return -1 if ORDER.get(wi[1], 0) > ORDER.get(wj[1], 0) else 1
    if wi[4] != wj[4]:
        return -1 if wi[4] < wj[4] else 1
    if wi[1] == 'rule':
        return 0
    return -1 if li < lj else (1 if li > lj else 0)


def sort_dump(text):
    lines = [l for l in text.split('\n') if l.strip() != '' and not l.lstrip().startswith('#')]
    lines = [l.strip() for l in lines]
    # Python's sort is stable, as Go's sort.SliceStable.
    return '\n'.join(sorted(lines, key=functools.cmp_to_key(compare))) + '\n'


if __name__ == '__main__':
    data = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    sys.stdout.write(sort_dump(data))
