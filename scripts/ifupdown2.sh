#!/bin/sh
# ifupdown2.sh: Debian's ifupdown2, unpacked into a private folder and run inside a network
# namespace, without touching the machine's own networking (research/real-components.md §8).
#
#   scripts/ifupdown2.sh prepare
#       download and unpack once (cached in $SDN_CACHE_DIR/ifupdown2, default
#       /var/cache/sdnkit/ifupdown2); prints the folder
#   scripts/ifupdown2.sh run NETNS WORKDIR CMD [ARGS...]
#       run CMD (ifup, ifdown, ifreload or ifquery) in NETNS; WORKDIR holds the interfaces file
#       ("WORKDIR/interfaces") and ifupdown2's state, and is kept between runs
#
# ifupdown2 reads its configuration from <pkgdir>/etc/network/ifupdown2 when /etc/network does not
# exist; ours points the interfaces file and the state at /run/sdnkit-ifupdown2, which `run` bind-
# mounts from WORKDIR inside the private mount namespace `ip netns exec` gives every command, under a
# private tmpfs on /run (ifupdown2's lock and state files). Nothing leaks to the host.
set -eu

CACHE=${SDN_CACHE_DIR:-/var/cache/sdnkit}/ifupdown2
PKGDIR=$CACHE/root/usr/share/ifupdown2
MOUNTPOINT=/run/sdnkit-ifupdown2

prepare() {
    if [ -f "$CACHE/.ready" ]; then
        echo "$CACHE"
        return
    fi
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    if [ ! -f "$CACHE/.ready" ]; then
        tmp=$(mktemp -d "$CACHE/.unpack.XXXXXX")
        (cd "$tmp" && apt-get download ifupdown2 >/dev/null 2>&1) || {
            echo "ifupdown2.sh: apt-get download ifupdown2 failed" >&2
            rm -rf "$tmp"
            exit 1
        }
        dpkg -x "$tmp"/ifupdown2_*.deb "$tmp/root"
        conf=$tmp/root/usr/share/ifupdown2/etc/network/ifupdown2
        mkdir -p "$conf" "$tmp/bin"
        cp "$tmp"/root/etc/network/ifupdown2/*.conf "$conf/"
        sed -i \
            -e "s#^state_dir=.*#state_dir=$MOUNTPOINT/state/#" \
            -e "s#^addon_scripts_support=1#addon_scripts_support=0#" \
            -e "s#^template_enable=1#template_enable=0#" \
            -e "s#^default_interfaces_configfile=.*#default_interfaces_configfile=$MOUNTPOINT/interfaces#" \
            "$conf/ifupdown2.conf"
        for cmd in ifup ifdown ifreload ifquery; do
            ln -s ../root/usr/share/ifupdown2/__main__.py "$tmp/bin/$cmd"  # argv[0] picks the mode
        done
        rm -rf "$CACHE/root" "$CACHE/bin"
        mv "$tmp/root" "$tmp/bin" "$CACHE/"
        rm -rf "$tmp"
        touch "$CACHE/.ready"
    fi
    echo "$CACHE"
}

run() {
    netns=$1 workdir=$2 cmd=$3
    shift 3
    case $cmd in ifup|ifdown|ifreload|ifquery) ;; *) echo "ifupdown2.sh: unknown command $cmd" >&2; exit 2;; esac
    mkdir -p "$workdir/state"
    dir=$(prepare)
    exec ip netns exec "$netns" /bin/sh -c '
        mount -t tmpfs sdnkit-ifupdown2 /run && mkdir -p /run/network "$1" &&
        mount --bind "$2" "$1" && shift 2 && exec /usr/bin/python3 "$@"' \
        _ "$MOUNTPOINT" "$workdir" "$dir/bin/$cmd" "$@"
}

case ${1:-} in
    prepare) prepare ;;
    run) shift; [ $# -ge 3 ] || { echo "usage: $0 run NETNS WORKDIR CMD [ARGS...]" >&2; exit 2; }; run "$@" ;;
    *) echo "usage: $0 prepare | run NETNS WORKDIR CMD [ARGS...]" >&2; exit 2 ;;
esac
