if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        systemctl enable --now assent-rendezvous.service >/dev/null 2>&1 || :
    else
        systemctl try-restart assent-rendezvous.service >/dev/null 2>&1 || :
    fi
fi
exit 0
