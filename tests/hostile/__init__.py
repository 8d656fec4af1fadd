"""The hostile suite: misbehaving clients and servers on 127.0.0.1, each case with the outcome
it expects, checked."""
