"""The lab's leaderboard: records scored on two clocks, with intervals and an anytime view,
published as a static page (`algoperf-lab leaderboard RECORDS... --out=DIR`)."""
