#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs inside the rxe-vm guest (as $VMDIR/share/run.sh, see wire_rxe.sh):
# kernel Soft-RoCE against softverbs on the host side of the bridge. First
# the guest is the client of the host's servers, then the server of the
# host's clients: ibv_rc_pingpong -c, ib_send_bw, ib_read_lat, and rping
# over rdma_cm (the kernel's CM against softverbs'). Role "rping" runs only
# the two rping, "rxe_client" only the guest's clients (no rping),
# "rxe_server" only its servers. Each result line starts with "RXE-RESULT".
H=10.77.0.1
ts() { echo "[t=$(cut -d' ' -f1 /proc/uptime)] $*"; }
retry() { n=0; while [ $n -lt 90 ]; do "$@" && return 0; n=$((n+1)); sleep 1; done; return 1; }
# The output goes to the console as it comes (a hang shows where it is).
res() { name=$1; shift; ts "$name: $*"; ("$@"; echo $? > /tmp/rc) 2>&1 | tee /tmp/out
	r=$([ "$(cat /tmp/rc)" = 0 ] && echo ok || echo FAIL)
	case $name in rping*) grep -q "rdma-ping-99:" /tmp/out || r=FAIL;; esac
	echo "RXE-RESULT $name $r $(grep -E 'iters in|^ *[0-9]+ +[0-9]+ +[0-9.]+' /tmp/out | tail -1 | tr -s ' ')"; }
modprobe rdma_rxe && rdma link add rxe0 type rxe netdev "$IF" || echo "RXE-RESULT setup FAIL"
# rdma_cm's user interface (/dev/infiniband/rdma_cm): the image keeps only
# rxe's modules, so wire_rxe.sh puts the CM's (same kernel build) in the
# share.
modprobe rdma_ucm 2>/dev/null || for m in configfs iw_cm ib_cm rdma_cm rdma_ucm; do
	insmod /share/cm-modules/$m.ko || echo "RXE-RESULT insmod-$m FAIL"
done
G=""; for i in 0 1 2 3; do case $(cat /sys/class/infiniband/rxe0/ports/1/gids/$i) in 0000:0000:0000:0000:0000:ffff:*) G=$i; break;; esac; done
ts "rxe0 up, IPv4 GID index $G"
want() { case $VM_role in all|"$1") return 0;; esac; return 1; }
if want rxe_client; then
res rc_pingpong_rxe_client retry timeout 120 ibv_rc_pingpong -d rxe0 -g "$G" -p 18515 -c -n 100 -s 4096 $H
res send_bw_rxe_client retry timeout 120 ib_send_bw -d rxe0 -x "$G" -p 18516 -n 1000 -s 65536 $H
res read_lat_rxe_client retry timeout 120 ib_read_lat -d rxe0 -x "$G" -p 18517 -n 1000 $H
fi
# rdma_cm: the kernel's CM against softverbs' (CM MADs on QP1 both ways).
want rping && res rping_rxe_client retry timeout 120 rping -c -v -V -a $H -C 100
if want rxe_server; then
res rc_pingpong_rxe_server timeout 120 ibv_rc_pingpong -d rxe0 -g "$G" -p 18515 -c -n 100 -s 4096
res send_bw_rxe_server timeout 120 ib_send_bw -d rxe0 -x "$G" -p 18516 -n 1000 -s 65536
res read_lat_rxe_server timeout 120 ib_read_lat -d rxe0 -x "$G" -p 18517 -n 1000
fi
want rping && res rping_rxe_server timeout 300 rping -s -v -V -a 10.77.0.2 -C 100
grep -H . /sys/class/infiniband/rxe0/ports/1/hw_counters/* | sed 's|.*/||' | tr '\n' ' '; echo
ts "guest done"
