# gdb script (#13 dev check): every thread's physical frames (NORMAL_FRAME: no inlined, no tail-call frames), innermost first.
import gdb
for t in gdb.selected_inferior().threads():
    t.switch()
    f = gdb.newest_frame(); pcs = []
    while f is not None:
        if f.type() == gdb.NORMAL_FRAME: pcs.append(f.pc())
        f = f.older()
    print("Thread %d: %s" % (t.ptid[1], " ".join(hex(p) for p in pcs)))
