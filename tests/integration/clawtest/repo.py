"""repo - small git repositories for the workspace tests.

    git, head = init_repo(path)   # path exists; one commit on main
    git("commit", "-q", "--allow-empty", "-m", "two")

git() runs git in the repository as user t <t@t> and returns its
standard output, stripped; a failing git raises CalledProcessError.
"""

import os
import subprocess


def git_in(repo):
    """A function running git in repo (see the module's comment)."""
    def git(*args):
        return subprocess.run(
            ["git", "-C", repo, "-c", "user.name=t", "-c",
             "user.email=t@t"] + list(args), check=True,
            capture_output=True, text=True).stdout.strip()
    return git


def init_repo(repo, soul="soul\n"):
    """Make the existing directory repo a git repository whose branch
    main has one commit ("one") adding SOUL.md with the text soul:
    (git_in(repo), that commit)."""
    git = git_in(repo)
    git("init", "-q", "-b", "main")
    with open(os.path.join(repo, "SOUL.md"), "w") as f:
        f.write(soul)
    git("add", "SOUL.md")
    git("commit", "-q", "-m", "one")
    return git, git("rev-parse", "HEAD")
