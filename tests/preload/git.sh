#!/usr/bin/env bash
# tests/preload/git.sh: preload.git. A scripted git session (init, add, five
# commits, branch, merge, tag, diff, blame, grep, repack, fsck, log) in a fresh
# repository with pinned names and dates, so every object hash is fixed; its
# output with and without the allocator preloaded must be identical.
# Usage: git.sh /path/to/libtarena.so     (git.sh --session DIR: internal)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"

if [ "${1:-}" = --session ]; then
    # The session itself: runs entirely under the preload (or not), in DIR,
    # printing what it found. Inputs were generated in DIR/src beforehand.
    cd "$2" || exit 1
    git init -q -b main repo
    cd repo || exit 1
    cp -r ../src/. .
    git add -A
    git commit -q -m "initial import"
    for round in 1 2 3 4; do
        # Edit every round-th file in place: deltas for diff and repack.
        for f in $(git ls-files | awk -v r="$round" 'NR % (r + 2) == 0'); do
            sed -i "s/gamma/gamma$round/; ${round}0,${round}5d" "$f"
        done
        git add -A
        git commit -q -m "round $round"
        if [ "$round" = 2 ]; then
            git checkout -q -b topic
            printf 'topic line %d\n' $(seq 1 500) >topic.txt
            git add topic.txt
            git commit -q -m "topic work"
            git checkout -q main
        fi
    done
    git merge -q --no-ff -m "merge topic" topic
    git tag -a v1 -m "tag v1"
    echo "head: $(git rev-parse HEAD 'HEAD^{tree}' v1 | tr '\n' ' ')"
    git log --format=fuller --stat --graph
    git diff --stat HEAD~3 HEAD
    echo "patch: $(git diff HEAD~4 HEAD | md5sum)"
    echo "blame: $(git blame -s d1/f1.txt | md5sum)"
    git grep -c epsilon HEAD -- d2
    git -c pack.threads=2 repack -adq
    git fsck --full --no-progress --strict 2>&1
    git rev-list --objects --all | sort | md5sum
    git log --oneline --all
    exit 0
fi

ta_init "$@"
ta_require git awk sed md5sum
export HOME=$TA_TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null TZ=UTC
export GIT_AUTHOR_NAME="Ada Author" GIT_AUTHOR_EMAIL=ada@example.org
export GIT_COMMITTER_NAME="Carl Committer" GIT_COMMITTER_EMAIL=carl@example.org
export GIT_AUTHOR_DATE="2024-01-02T03:04:05Z" GIT_COMMITTER_DATE="2024-01-02T03:04:05Z"
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
mkdir -p "$HOME"

for mode in plain preload; do
    dir=$TA_TMP/$mode
    for d in 1 2 3 4; do
        mkdir -p "$dir/src/d$d"
        for f in $(seq 1 40); do
            ta_gen_lines 300 $((d * 1000 + f)) >"$dir/src/d$d/f$f.txt"
        done
    done
    ta_run "$mode" session bash "$here/git.sh" --session "$dir"
done
ta_compare session
grep -q "^head: [0-9a-f]\{40\} " "$TA_TMP/session.plain.out" || ta_fail "the git session printed no commit hash"
cmp -s "$TA_TMP/plain/repo/.git/HEAD" "$TA_TMP/preload/repo/.git/HEAD" || ta_fail ".git/HEAD differs"
ta_check_binds git --version
echo "PASS: preload.git"
