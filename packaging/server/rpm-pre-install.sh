getent group assent-rendezvous >/dev/null || groupadd -r assent-rendezvous
getent passwd assent-rendezvous >/dev/null || \
    useradd -r -g assent-rendezvous -d /var/lib/assent-rendezvous -s /sbin/nologin \
        -c "Assent rendezvous server" assent-rendezvous
exit 0
