# SPDX-License-Identifier: MIT
# Shared by tests/wire_rxe.sh and tests/wire_netem_guest.sh: the rxe-vm
# tool (../shared/tools/rxe-vm, a Debian 12 QEMU guest with kernel
# Soft-RoCE) and the extra kernel modules its image does not keep.
#
#   rxevm_find        -> $TOOL, $VMDIR; exits 77 without QEMU or the tool
#   rxevm_image       builds the guest image if absent (exit 1 if it fails)
#   rxevm_kver        the guest kernel's version
#   rxevm_modules DIR PATH...
#                     copies kernel/PATH.ko of the guest kernel's own
#                     Debian package (the image's debootstrap cache, else
#                     apt) into DIR; 0 when every module is there

rxevm_find() {
	TOOL=${RXEVM_TOOL:-$HERE/../../shared/tools/rxe-vm}
	[ -d "$TOOL" ] || TOOL=/work/shared/tools/rxe-vm
	export VMDIR=${VMDIR:-/tmp/rxevm}
	command -v qemu-system-x86_64 >/dev/null && [ -x "$TOOL/boot.sh" ] ||
		{ echo "SKIP: no QEMU or no rxe-vm tool ($TOOL)"; exit 77; }
}

rxevm_image() {
	[ -f "$VMDIR/out/root.img" ] || sh "$TOOL/build.sh" ||
		{ echo "FAIL: cannot build the guest image"; exit 1; }
}

rxevm_kver() {
	ls "$VMDIR/out/rootfs/lib/modules" | head -1
}

# True when DIR already holds every PATH's module.
rxevm_have() {
	local d=$1 m
	shift
	for m in "$@"; do
		[ -f "$d/${m##*/}.ko" ] || return 1
	done
}

# The guest kernel's package, unpacked into $1/x.
rxevm_unpack() {
	local tmp=$1 kv deb
	kv=$(rxevm_kver)
	deb=$(ls "$VMDIR"/debcache/linux-image-"$kv"_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] || deb=$(cd "$tmp" &&
		apt-get download "linux-image-$kv" >/dev/null 2>&1 &&
		ls "$tmp"/linux-image-*.deb)
	[ -n "$deb" ] && dpkg-deb -x "$deb" "$tmp/x"
}

rxevm_modules() {
	local d=$1 tmp m kv
	shift
	rxevm_have "$d" "$@" && return 0
	tmp=$(mktemp -d)
	kv=$(rxevm_kver)
	if rxevm_unpack "$tmp"; then
		mkdir -p "$d"
		for m in "$@"; do
			cp "$tmp/x/lib/modules/$kv/kernel/$m.ko" "$d/" || break
		done
	fi
	rm -rf "$tmp"
	rxevm_have "$d" "$@"
}
