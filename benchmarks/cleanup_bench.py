"""Cleanup: one populated tenant, cleaned by reaper, by openstacksdk and by a bare loop.

``python -m benchmarks.cleanup_bench [--sizes small,large] [--latency 0,100]
[--cleaners reaper,sdk,ideal] [--extras 3x200] [--workdir DIR]`` (``REAPER_TESTBED_RUN_DIR``
attaches to a running testbed; otherwise one is brought up and down).

Each *cell* (size x added latency x cleaner) gets a tenant of its own,
built by ``tests/testbed/tenant.py`` as the tenant's user: servers (each
with a volume attached, the first ones with a floating IP), volumes,
snapshots, floating IPs, a network, subnet, router with an external gateway
and an interface, two extra security groups, two standalone ports and two
images; with ``--extras CxO`` also C Swift containers of O tiny objects and
a load balancer (``benchmarks/extras_tenant.py``). Each cell's tenant is
built just before the cell runs (never while one is being timed), so every
cell meets a host that holds its own tenant only (``--together`` builds a
size's tenants first, in parallel: faster, but then a cell's position in
the run weighs more than the cleaner). Each
cell is timed from the cleaner's first request until everything it deletes
is confirmed gone by a listing:

* **reaper**: the project is deleted in Keystone, then reaper's own path,
  in-process, as ``reaper apply --project ID --yes --approve`` runs it:
  ``reaper.cloud.connect``, Keystone verification, discovery, policies,
  plan, audit, the executor's waves and its confirmation listings (with
  ``--yes`` there is no pause after the plan's discovery, so no second
  one). Phases are timed (and their requests counted) so a missed target
  says where the time went.
* **sdk**: openstacksdk's ``project_cleanup`` as a project-scoped admin
  (the admin user gets the ``admin`` role on the tenant project), before
  the project is deleted: the only way it works. It returns while servers,
  volumes and snapshots are still listed, so their listings are then
  polled until they are gone.
* **ideal**: a bare 16-thread loop with no logic, after the project is
  deleted in Keystone: one listing per type, then servers (wait gone);
  then, side by side as project_cleanup runs its services once compute's
  is done, snapshots (wait gone) and volumes (wait gone); floating IPs,
  router interfaces, standalone ports, the router, subnet, network and
  security groups; and images (servers before their addresses, the order
  project_cleanup showed cheaper: see ``run_ideal``). Each phase in
  parallel, waits by polling listings, and last the three quota sets
  (reaper releases them too). Ports Nova creates for
  servers go with their servers, so it does not delete them.

All three run through the fault proxy, without added latency or with
``--latency`` milliseconds added to every request (token requests
included); the proxy counts their requests by method. Leftovers are what
an admin still lists for the project afterwards (the ``default`` security
group, which Neutron re-creates whenever it is listed, does not count).
Afterwards, untimed, every tenant is reaped (quotas released, leftovers
removed) and its user deleted.

The workdir keeps a state file: measurements already taken are printed,
not taken again (``--again`` retakes them), tenants already built are used,
and tenants a crashed run left behind are reaped first, so an interrupted
full-size run can be started again with the same command.

Targets: at every latency, reaper's wall time at most 0.9x the better of
project_cleanup's and the ideal's, and its requests at most 0.7x
project_cleanup's (issue 18); without latency, reaper within 1.1x of the ideal's wall time;
with 100 ms, what reaper loses to latency at most a tenth of what
project_cleanup loses; requests at most 1.1x the ideal's; zero leftovers.

Figures, small tenant, 0 ms (one run, load 17-34, before the server window):
reaper 119.5 s and 221 requests, project_cleanup 72.5 s and 238, the ideal
78.5 s and 184. The servers were the difference: reaper's 25 DELETEs went
out within three seconds beside Cinder's, Glance's and the addresses' work,
and Nova's network cleanup took 11-55 s per server (server phase 55-77 s);
project_cleanup's, one request at a time with nothing beside, 1-15 s (34-54
s). ``[executor] server_delete_window`` holds a plan's servers in progress
to N, the next sent when one is confirmed gone.

Figures of 2026-12-07, small tenant, one testbed, one cell at a time, each
tenant built just before its cell (load: the 1-minute average as the cell
began, on 2 cores, mostly the build's own). Cells in the order they ran;
the baseline of each is the sdk and ideal cells of the same run:

=====  ===============================  ========  ========  ====
time   cell                             wall s    requests  load
=====  ===============================  ========  ========  ====
12:31  reaper, no window, 0 ms              22.2       189   6.6
12:33  reaper, window 4                     38.5       194   5.8
12:35  project_cleanup, 0 ms                27.3       236   9.0
12:37  ideal, 0 ms                          21.5       160   5.4
12:48  reaper, window 2                     70.4       208   7.2
12:51  reaper, no window                    27.4       199   6.4
12:53  reaper, window 8                     35.6       208   7.3
12:56  ideal                                31.2       166   7.3
12:58  project_cleanup                      32.4       236   8.4
13:00  reaper, window 4                     32.6       200   7.5
       (discovery 42 -> 35 GETs from here)
13:49  reaper, 0 ms                         41.3       194   6.0
13:52  project_cleanup, 0 ms                31.3       237   8.4
13:54  ideal, 0 ms                          23.2       162   6.4
13:57  reaper, 100 ms                       38.1       189   6.6
13:59  project_cleanup, 100 ms              35.8       235   8.7
14:02  ideal, 100 ms                        36.6       164   7.4
14:19  reaper, 0 ms                         25.4       183   5.3
14:21  ideal, 0 ms                          23.7       160   6.6
16:17  reaper, 0 ms (main at 0b652d7)       23.4       185   7.6
       (version documents with the token up front, held listings:)
16:19  reaper, 0 ms (at 863cff9)            25.3       175   6.7
       (listings overlap a request in flight, one run, at f4a9541:)
16:50  reaper, 0 ms                         25.4       175   7.0
16:52  project_cleanup, 0 ms                27.9       236   6.9
16:54  ideal, 0 ms                          24.9       162   7.5
=====  ===============================  ========  ========  ====

Every window was slower than none (a server holds its place until a listing
confirms it gone, and on this host Nova was not slowed by the rest of the
work), so the default stays 0. From 13:49, discovery sent 35 GETs, not 42: a
version document is read once per endpoint whatever its trailing slash
(``reaper/versiondocs.py``), and a tenant's security groups' users are two
listings. Wall times of one cleaner moved by up to 2x between runs at the
same load (reaper 22-41 s, the ideal 21-31 s): one cell says little, and
issue 18's 0.9x (reaper against the best peer) is not met: 1.03x at best in
a run (22.2 s against the ideal's 21.5 s; 1.07x at 14:19), 1.07x at 100 ms.
Requests are 0.80-0.84x project_cleanup's in a run, 0.78x for the 183 of
14:19 (target 0.70x): reaper sends the same 124 deletions as the ideal
(0.53x of project_cleanup's 236 alone), so 0.70x leaves 41 requests for the
token, Keystone's verification (3), version documents (9), discovery's
listings, the admin project and live-use lookups (27) and every confirmation
listing (18-30 a run, the part that varies); the ideal, with 10 listings and
none of the checks, reads 36.

From 16:19 (the 16:17/16:19 pair on one testbed, the 16:50-16:54 cells one
run on another): 175 requests, 0.74x project_cleanup's 236 (target 0.70x,
165). A service's version document is asked with the token held
(``reaper/versiondocs.py``): Cinder's and Neutron's 401 round trips are
gone (discovery 35 -> 33 GETs). A confirmation listing that would free no
step yet is held (``reaper/executor/holds.py``): snapshots were listed 6
times while the servers still held the volumes that wait for both, volumes
5 times while the quota releases waited for everything else; now once
each, and the volume listing overlaps the last network deletion (the
network steps end at 24.5 s, the quotas at 25.4 s after the router's 1.3 s).
By phase, 185 -> 175: token and Keystone (its version document, the
project, reaper's own project and user) 5 -> 5; discovery 35 -> 33
(version documents 8 -> 6, the admin project 2, listings 20, live use 5);
waves 145 -> 137 (the same 124 deletions; listings 21 -> 13: servers 9-10,
snapshots 6 -> 1, volumes 5 -> 1, the port lookup 1). What is left above
0.70x is reads the ideal does not make: Keystone's witnesses, the admin
project, live use and the listings of types the ideal does not clean
(subnet pools, address scopes, QoS policies, RBAC both ways, backups,
server groups, placement usages, shared and hidden images), and the server
listings (10, as many as the ideal's own wait for its servers).
Where they go: ``requests-<cell>.txt`` in the workdir.

The large tenant and the small one at 100 ms, at 4d29f6f (the heavy lock held,
one run each, each tenant built just before its cell; load as above):

=====  ===============================  ========  ========  ====
time   cell                             wall s    requests  load
=====  ===============================  ========  ========  ====
17:04  reaper, large, 0 ms                  92.4       537   5.8
17:10  project_cleanup, large, 0 ms        105.3       800   6.3
17:17  ideal, large, 0 ms                  121.3       545   7.2
17:22  reaper, small, 100 ms                32.0       178   7.1
17:24  project_cleanup, small, 100 ms       38.5       235   6.4
17:26  ideal, small, 100 ms                 32.7       164   6.9
=====  ===============================  ========  ========  ====

Large, 0 ms: every target met in the run. Reaper's wall time is 0.88x
project_cleanup's, the better peer here, and 0.76x the ideal's. The ideal
waited 80 s for its servers before the volumes, where reaper deleted
volumes, snapshots and addresses as each server went. Reaper's requests
are 0.67x project_cleanup's: 33 discovery GETs, 45 confirmation listings
(32 of them servers'), the same 453 DELETEs as the ideal. Small, 100 ms:
0.98x the ideal's wall time (target 0.90x) and 0.76x project_cleanup's
requests (target 0.70x); missed. Against the 0 ms run at 16:50, reaper lost
6.6 s to the latency and project_cleanup 10.6 s, not the tenth asked (two
runs, not one).

The small tenant at 0 ms, at ec83d48 (the heavy lock held, three runs of the
three cells, each tenant built just before its cell; load as above). The
19:06 run paced the server listings (below), a change not kept:

=====  ===============================  ========  ========  ====
time   cell                             wall s    requests  load
=====  ===============================  ========  ========  ====
18:54  reaper, witness in one request      21.0       172   6.3
18:56  project_cleanup                     24.1       237   6.5
18:57  ideal                               20.3       160   7.2
19:06  reaper, + /v3/, paced servers       25.0       171   5.1
19:08  project_cleanup                     18.8       237   7.3
19:09  ideal                               21.2       161   8.4
19:19  reaper, ec83d48                     21.0       171   7.0
19:20  project_cleanup                     19.3       236   7.5
19:22  ideal                               18.3       158   6.0
=====  ===============================  ========  ========  ====

175-178 -> 171 requests, 0.72x project_cleanup's (target 0.70x: 165): by
phase, token and Keystone 5 -> 4 (reaper's own account is one request,
``GET /v3/users/{own}/projects`` listing its project:
``reaper/cleanup/ownaccount.py`` says why that witnesses as much as the
project and the user did), discovery 33 -> 32 (Cinder's version document
was ``GET /v3`` answered 302 and ``GET /v3/`` followed; it is now asked at
``/v3/`` at once, ``reaper/versiondocs.py``), waves 137 -> 135 (123-124
DELETEs; 11 listings: servers 8, snapshots 1, volumes 1, the port lookup 1).
Wall time 1.03x and 1.15x the ideal's in the two unpaced runs (0.87x and
1.09x project_cleanup's): noise of the order of the whole gap.
``trace-<cell>.txt`` lists every request in the order sent.

The server listings: Nova confirmed the 25 servers 7.5 s after the first
DELETE at the earliest and 14.4 s at the latest, a few per listing (3, 4,
3, 2, 7, 6), after two listings that found none. Paced by what the kind's
removals had taken (the next listing once the youngest pending server is
due by the learned time, at most ``confirm_max_interval`` away) they took 6
listings, not 8, but the last came 3.6 s after the one before, where the
unpaced ones come every 1.1-1.4 s at the tail: the last server's
confirmation starts the network chain (port lookup, security groups, router
interface, router, subnet, network, quotas: ~3 s), so each second it waits
is a second of wall time, and the run took 25.0 s. The two empty listings
are a cold start's (nothing learned yet: a controller's later plans wait
for what earlier ones took, ``reaper/executor/durations.py``), and every
listing saved between the first confirmation and the last is paid for by a
later last one. The 0.70x is therefore not met by the reads alone.

Neutron's version document, at 5cc38e8 (f218c80 and the change; c54a256 on main;
one run of the three cells, the heavy lock held, each tenant built just
before its cell; load as above):

=====  ===============================  ========  ========  ====
time   cell                             wall s    requests  load
=====  ===============================  ========  ========  ====
19:50  reaper, no Neutron document         22.8       175   6.1
19:52  project_cleanup                     20.7       236   9.3
19:54  ideal                               21.1       160  10.0
=====  ===============================  ========  ========  ====

What read it: not the catalog (openstacksdk appends ``/v2.0`` to Neutron's
catalog URL itself and reads nothing), but the fault proxy's clouds.yaml,
whose ``network_endpoint_override`` (``.../v2.0``) makes openstacksdk ask
the override's document before it builds the proxy (``_make_proxy``:
``get_endpoint_data()``). At ``/v2.0/`` Neutron answers its resource list
(project_cleanup, without the token up front: 401 then 404 at ``/v2.0``);
keystoneauth finds no version in it and the override is used as given.
``reaper/versiondocs.py`` now builds that proxy at once for a versioned
override (an unversioned one keeps its read, which finds ``/v2.0/``).
Discovery 32 -> 31 GETs (no ``network GET /v2.0/`` in ``trace-*``); the
run's 175 (0.74x project_cleanup's, target 0.70x) is the confirmation
listings' doing: 16 (servers 11, snapshots 2, ports 2, volumes 1) where
the 171 run had 11. With the 19:19 run's listings it would be 170 (0.72x).

Glance's and Placement's root documents, at 704ab10 (the change before its
rebase onto d2b8f21; one run of the three cells at 22:24-22:30, the heavy
lock held, each tenant built just before its cell; load 8.2, 9.8 and 8.8 as
each cell began; reaper-only runs of 22:04 and 22:15, before and after the
change, beside it):

=====  ===============================  ========  ========  ====
time   cell                             wall s    requests  load
=====  ===============================  ========  ========  ====
22:04  reaper, 5c3c700 (reaper only)       25.8       173   7.7
22:15  reaper, 704ab10 (reaper only)       25.0       170   6.9
22:25  reaper, 704ab10                     23.8       168   8.2
22:27  project_cleanup                     28.9       236   9.8
22:30  ideal                               18.7       159   8.8
=====  ===============================  ========  ========  ====

openstacksdk read Glance's root document (``GET /``, a 300) and Placement's
(``GET /``) before each service's first request, from the catalog and from
an endpoint override alike; neither says anything reaper uses (Glance's API
is ``/v2`` under its root, every Placement request names its microversion).
Both proxies are now built on the endpoint at once
(``reaper/versiondocs.py``: ``UNREAD``): discovery 31 -> 29 GETs. 168
requests, 0.71x project_cleanup's (target 0.70x: 165); by phase, token and
Keystone 4, discovery 29, waves 135 (123 DELETEs, the router interface's
PUT, 11 listings: servers 8, snapshots 1, volumes 1, the port lookup 1).
The two reaper-only runs listed servers 10 times each (two empty listings
from the cold start, then 2-4 servers a listing, then 6-7 and a last
straggler ~1.1 s later): the confirmations still move the total by 2-3
requests between runs. Wall time 1.28x the ideal's, 0.82x
project_cleanup's. The 29 GETs of discovery: Nova's and Cinder's version
documents (their microversions), the admin project and its domain (2),
20 listings (Neutron 11 of them, QoS's 404 included; Glance 3; Cinder 3;
Nova 2; Placement 1) and the 5 live-use lookups.

The admin project's domain from the token, and the port lookup held (h25;
2026-12-08, after 1c3e3ff cached the testbed's Keystone; the heavy lock
held, each tenant built just before its cell, reaper's cell first; load as
above; the commits as measured, on eeef745, landed as be8bd1d and f474c07;
01:15 ran be8bd1d's change uncommitted). ``be8bd1d``: the house takes the
id of the admin project's domain from the token Keystone issued reaper
within the last minute, when the token's project or user is in that domain
(``reaper/cleanup/house.py``: ``GET /v3/domains?name=Default`` gone; the
project is still listed by name in the domain). ``f474c07``: a port lookup
whose listing would let no step
start (every security group, the subnet and the network wait for every
server's port) no longer goes at ``lookup_wait`` (10 s) on its own: in the
01:15 run the servers trickled out for 15 s and the ports were looked up
twice. Two experiments beside (reaper only, not kept):

=====  ======================================  ========  ========  ====
time   cell                                    wall s    requests  load
=====  ======================================  ========  ========  ====
01:15  reaper, be8bd1d                            33.1       175   9.6
01:17  project_cleanup                            24.4       236  10.6
01:19  ideal                                      26.3       164   7.7
01:31  reaper, f474c07                            22.8       170   7.0
01:33  project_cleanup                            19.0       235   6.2
01:35  ideal                                      22.6       161   6.4
01:37  reaper, snapshots and volumes after        21.2       169   6.6
       every server (experiment)
01:46  reaper, compute_concurrency = 1            24.4       169   5.4
       (experiment)
       (100 ms added to every request, f474c07:)
01:50  reaper, 100 ms                             27.3       171   7.3
01:52  project_cleanup, 100 ms                    34.5       235   6.8
01:54  ideal, 100 ms                              30.8       163   8.8
=====  ======================================  ========  ========  ====

At 100 ms reaper's wall time is 0.89x the ideal's, the better peer there
(target 0.90x: met, in one run), and its requests 0.73x project_cleanup's
(171: server listings 11). Against the 0 ms run at 01:31, reaper lost
4.5 s to the latency and project_cleanup 15.5 s: 0.29 of it (target 0.10).

Requests: 175 and 170, 0.74x and 0.72x project_cleanup's (target 0.70x:
165). By phase at 01:31: token and Keystone 4, discovery 28 (29 - the
domain), waves 138 (123 DELETEs, the interface PUT, 14 listings: servers
10, snapshots 2, volumes 1, ports 1). The server listings are what moves
between runs (13 at 01:15, 10 at 01:31, 8 at 01:37): two or three empty
ones each run, then Nova's trickle. A cold first wait for servers was not
tried: the first listing is sent once all 25 DELETEs are accepted (3-5 s
after the first, the poller waits for unsent ones), and listings 5-7 s
after the first DELETE still confirmed none (01:15, 01:37); a prior long
enough to save those listings would hold up the confirmation of a lone
server that an idle Nova removes in a second or two. What is left above
0.70x is the 8-13 server listings of the cold start and the trickle, and
the reads the ideal
does not make (Keystone's witnesses, the admin project, live use, the
version documents: keystoneauth's ``GET /v3`` is the generic password
plugin's, ``reaper/cloud.py`` builds it).

Wall time: 1.01x the ideal's and 1.20x project_cleanup's at 01:31 (1.26x
and 1.36x at 01:15, when reaper's cell ran on a testbed up for a minute).
Where it goes, from the traces (seconds from the cleaner's first request;
"servers" from the first server DELETE until a listing confirmed the last):

=====  ==============  =====================  ===========  =================
time   cleaner         before the first       servers      after the servers
                       server DELETE
=====  ==============  =====================  ===========  =================
01:15  reaper          4.0 (discovery 3.5)    26.6         2.5
01:17  project_cl.     0.7                    16.2         7.4
01:19  ideal           0.9                    17.4         7.9
01:31  reaper          2.1 (discovery 1.8)    17.6         3.1
01:33  project_cl.     0.6                    11.3         7.1
01:35  ideal           0.9                    12.2         9.5
01:37  reaper, exp.    2.4                    13.5         5.3
01:46  reaper, conc. 1 2.5                    18.6         3.3
=====  ==============  =====================  ===========  =================

Reaper's tail after the servers is the shortest (volumes, addresses and
ports go as each server is confirmed), but its servers take 1.4-1.5x as
long as the ideal's, whose servers go alone. Reaper sends the 25 snapshot
and the 25 unattached volume DELETEs (and the images and ports) in the
same seconds as the server DELETEs, and every server's deletion needs
Cinder too (nova-compute detaches its volume): in the 01:15 trace the first
server was confirmed 12 s after the first DELETE.
With snapshots and volumes made to wait for every server (the experiment,
``depends_on`` added in the benchmark, not in the planner) the servers took
13.5 s, near the ideal's, and the tail grew from 3.1 to 5.3 s (snapshot
DELETE, listing, volume DELETE, listing): 21.2 s against 22.8 s, within
the noise of one run. Two more differences: discovery's 28 reads take
1.8-3.5 s before the first DELETE (the ideal's 10 listings 0.7-0.8 s:
Neutron answers 10 listings at once in ~2 s on this host), and reaper's
compute concurrency of 8 accepts the 25 DELETEs in 2.5-4.8 s where the
ideal's 16 threads take 2.5. project_cleanup deletes its servers one at
a time (a DELETE, then a port listing of the server) and Nova removed them
as fast as the ideal's burst (11.3 and 16.2 s against 12.2 and 17.4 s):
nothing there to raise the ideal by; reaper's server DELETEs one at a
time (``compute_concurrency = 1``, the second experiment, sent over 8 s
beside the Cinder work) took 18.6 s, no better than 8 at once. The 0.9x target needs the server
phase near the ideal's and a tail near reaper's: block storage held back
while Nova still detaches, started before the last servers go. Not done
here: it changes the plan's order, which the large tenant (reaper 0.76x
the ideal's wall time there, by overlapping) must be measured for.

The large tenant at 0 ms, main at 262a7ad (the domain from the token, the
held port lookup, Neutron's discovery first; the testbed's Keystone cached),
2026-12-08, the heavy lock held, one run, each tenant built just before its
cell (load 5.7-9.6, the testbed's own):

=====  ===============================  ========  ========
time   cell                             wall s    requests
=====  ===============================  ========  ========
02:15  reaper, large, 0 ms                  84.6       533
02:22  project_cleanup, large, 0 ms         81.8       795
02:29  ideal, large, 0 ms                  104.8       537
=====  ===============================  ========  ========

Requests 0.67x project_cleanup's (met); wall time 1.03x project_cleanup's
and 0.81x the ideal's (0.90x of the better peer missed in this run, met at
4d29f6f: 0.88x). Reaper's servers went from 5.6 to 83.3 s, the volumes
ended at 84.5 s, 1 s after the last server: the cleanup is Nova's server
removals here, and project_cleanup's run had them faster (a cell's wall
time moves by ~15 % between runs of the same build on this host).

To measure a window beside the unpaced reaper and the other cleaners, in
two workdirs on one testbed (``REAPER_TESTBED_RUN_DIR``)::

    python -m benchmarks cleanup --sizes small --latency 0 --workdir /tmp/cb-w4 \\
        --cleaners reaper --executor server_delete_window=4
    python -m benchmarks cleanup --sizes small --latency 0 --workdir /tmp/cb-w0
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import itertools
import json
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.extras_tenant import (
    Extras,
    account_deletion,
    container_deletion,
    containers,
    extra_leftovers,
    give_extras,
    has_bulk_delete,
    load_balancer_deletion,
    load_balancers,
    wait_load_balancers_gone,
)
from benchmarks.support import (
    ReaperHome,
    by_method,
    log,
    machine_load,
    methods_text,
    open_testbed,
    reap_project,
    sdk_connection,
    window,
)
from tests.faultproxy import FaultProxy, Faults, Seen, shape, upstreams_of
from tests.functional.reaping import admin_auth
from tests.testbed.holdings import leftovers
from tests.testbed.tenant import Tenant, TenantSpec, build_tenant

if TYPE_CHECKING:
    from openstack.connection import Connection

    from reaper.model import Outcome, Resource, Step
    from tests.testbed import Testbed

CLEANERS = ("reaper", "sdk", "ideal")
#: Seconds between the listings that wait for asynchronous deletions (sdk and
#: ideal), the same as reaper's default ``[executor] confirm_interval``.
POLL_INTERVAL = 1.0
IDEAL_THREADS = 16
#: Measured on this project's machine kind (2 cores, no latency) before reaper
#: existed: (wall, requests) text per size and cleaner.
BASELINES: Mapping[str, Mapping[str, str]] = {
    "small": {"sdk": "18-19 s, 224 req", "ideal": "21-22 s, 150 req"},
    "large": {"sdk": "86 s, 785 req", "ideal": "90-95 s, 508 req"},
}
INTERFACE_OWNERS = frozenset(
    {
        "network:router_interface",
        "network:router_interface_distributed",
        "network:ha_router_replicated_interface",
    }
)


@dataclasses.dataclass(frozen=True)
class Size:
    """A tenant size: servers / volumes / snapshots / floating IPs."""

    name: str
    servers: int
    volumes: int
    snapshots: int
    floating_ips: int
    #: Swift containers and a load balancer on top (``--extras``), or none.
    extras: Extras | None = None

    def with_extras(self, extras: Extras | None) -> Size:
        """This size with ``extras`` on top, named apart (``small+3x200+lb``)."""
        if extras is None:
            return self
        return dataclasses.replace(self, name=f"{self.name}+{extras.label}", extras=extras)

    def spec(self) -> TenantSpec:
        return TenantSpec(
            servers=self.servers,
            volumes=self.volumes,
            attached_volumes=min(self.servers, self.volumes),
            snapshots=self.snapshots,
            floating_ips=self.floating_ips,
            ports=2,
            images=2,
            keypairs=0,  # a user's, not the project's: none of the cleaners is asked for them
            security_groups=2,
            timeout=1800.0,
        )

    @classmethod
    def parse(cls, token: str) -> Size:
        """A named size, or ``S/V/N/F`` (servers/volumes/snapshots/floating IPs)."""
        if token in SIZES:
            return SIZES[token]
        try:
            servers, volumes, snapshots, fips = (int(x) for x in token.split("/"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"size {token!r}: one of {', '.join(SIZES)} or SERVERS/VOLUMES/SNAPSHOTS/FIPS"
            ) from None
        return cls(token.replace("/", "-"), servers, volumes, snapshots, fips)


SIZES = {
    "tiny": Size("tiny", 2, 4, 2, 1),
    "small": Size("small", 25, 50, 25, 10),
    "large": Size("large", 100, 200, 100, 40),
}


@dataclasses.dataclass(frozen=True)
class Cell:
    size: Size
    latency_ms: int
    cleaner: str

    @property
    def key(self) -> str:
        return f"{self.size.name}/{self.latency_ms}ms/{self.cleaner}"


@dataclasses.dataclass
class Phase:
    """A stretch of one cleanup, with the requests that started in it."""

    name: str
    start: float
    end: float
    requests: dict[str, int] = dataclasses.field(default_factory=dict)
    note: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclasses.dataclass
class Measurement:
    cell: str
    cleaner: str
    wall: float
    requests: dict[str, int]
    leftovers: dict[str, int]
    resources: int
    load: str
    phases: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def leftover_count(self) -> int:
        return sum(self.leftovers.values())


class CleanerError(RuntimeError):
    """A cleaner could not finish; the cell is reported as failed."""


# -- state kept across runs ----------------------------------------------------------------


class State:
    """``state.json`` in the workdir: tenants by cell and measurements taken.

    Written after every change (atomically), so a run killed at any point
    leaves a file the next run can resume from.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.data: dict[str, dict[str, Any]] = {"tenants": {}, "results": {}}
        if path.exists():
            self.data = json.loads(path.read_text())

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        tmp.chmod(0o600)  # tenant users' passwords
        tmp.replace(self.path)

    def tenant(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self.data["tenants"].get(key)

    def tenants(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self.data["tenants"])

    def set_tenant(self, key: str, **fields: Any) -> None:
        with self._lock:
            self.data["tenants"].setdefault(key, {}).update(fields)
            self._save()

    def drop_tenant(self, key: str) -> None:
        with self._lock:
            self.data["tenants"].pop(key, None)
            self._save()

    def result(self, key: str) -> Measurement | None:
        with self._lock:
            raw = self.data["results"].get(key)
        return Measurement(**raw) if raw else None

    def set_result(self, key: str, measurement: Measurement) -> None:
        with self._lock:
            self.data["results"][key] = dataclasses.asdict(measurement)
            self._save()

    def drop_result(self, key: str) -> None:
        with self._lock:
            self.data["results"].pop(key, None)
            self._save()


# -- the benchmark's context ---------------------------------------------------------------


@dataclasses.dataclass
class Bench:
    testbed: Testbed
    admin: Connection
    proxy: FaultProxy
    reaper: ReaperHome
    state: State
    args: argparse.Namespace

    @property
    def auth(self) -> dict[str, Any]:
        return admin_auth(self.testbed)

    def proxied_admin(self) -> Connection:
        return sdk_connection(self.proxy, self.auth, self.testbed.region)


def resource_count(tenant: Tenant, extras: Extras | None = None) -> int:
    """What the tenant holds, counted as a user would: one per object created."""
    return (extras.resources if extras else 0) + (
        len(tenant.server_ids)
        + len(tenant.volume_ids)
        + len(tenant.snapshot_ids)
        + len(tenant.floating_ip_ids)
        + len(tenant.port_ids)
        + len(tenant.security_group_ids)
        + len(tenant.image_ids)
        + len(tenant.attachments)
        + 4  # network, subnet, router, its interface
    )


# -- reaper ------------------------------------------------------------------------------


class ReaperProbe:
    """Times reaper's phases from the inside, without changing what reaper does.

    The road's inventory seam is wrapped (its first call is the plan's
    discovery, the second the re-check before the first step) and so is
    ``SdkRunner.confirm`` (one batched confirmation listing); an observer
    stamps every step's start and finish.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.discoveries: list[tuple[float, float]] = []
        self.confirms: list[tuple[str, int, float, float]] = []
        self.started: dict[str, float] = {}
        self.finished: dict[str, tuple[float, str]] = {}
        self.types: dict[str, str] = {}

    def timed(self, seams: Any) -> Any:
        """``seams`` (a ``reaper.cleanup.seams.Cloud``) with its inventory timed."""
        import dataclasses

        real_discover = seams.inventory

        def discover(*args: Any, **kwargs: Any) -> Any:
            begun = time.monotonic()
            try:
                return real_discover(*args, **kwargs)
            finally:
                with self.lock:
                    self.discoveries.append((begun, time.monotonic()))

        return dataclasses.replace(seams, inventory=discover)

    @contextmanager
    def installed(self) -> Iterator[ReaperProbe]:
        from reaper.actions.runner import SdkRunner

        real_confirm = SdkRunner.confirm

        def confirm(runner: Any, rtype: str, action: str, pending: Mapping[str, Any]) -> Any:
            begun = time.monotonic()
            try:
                return real_confirm(runner, rtype, action, pending)
            finally:
                with self.lock:
                    self.confirms.append((rtype, len(pending), begun, time.monotonic()))

        SdkRunner.confirm = confirm  # type: ignore[method-assign]
        try:
            yield self
        finally:
            SdkRunner.confirm = real_confirm  # type: ignore[method-assign]

    # Observer protocol
    def step_started(self, step: Step, resource: Resource | None) -> None:
        with self.lock:
            self.started[step.id] = time.monotonic()
            self.types[step.id] = step.resource.type

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None:
        pass

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        with self.lock:
            self.finished[step.id] = (time.monotonic(), outcome.status.value)
            self.types[step.id] = step.resource.type


def run_reaper(bench: Bench, tenant: Tenant) -> tuple[float, list[Phase], list[str]]:
    """Delete the project in Keystone, then reaper's apply path, timed to the last confirmation."""
    from reaper import cloud
    from reaper.audit.trail import AuditTrail
    from reaper.cleanup.execute import execute_plan
    from reaper.cleanup.plan import make_plan
    from reaper.cleanup.record import audit_planned
    from reaper.cleanup.seams import Cloud
    from reaper.cleanup.settings import Settings
    from reaper.cli.apply import recheck_needed
    from reaper.model import IdentityKind, IdentityRef
    from reaper.policy import configured_policy_paths, load_policies
    from reaper.store import Store

    # What `reaper apply` does before it talks to the cloud: not the cleanup's time.
    conf = bench.reaper.conf()
    settings = Settings.from_conf(conf)
    policies = load_policies(configured_policy_paths(conf))
    store = Store.from_conf(conf)
    trail = AuditTrail.from_conf(store, conf)
    identity = IdentityRef(IdentityKind.PROJECT, tenant.project_id)
    bench.admin.identity.delete_project(tenant.project_id)
    notes: list[str] = []
    probe = ReaperProbe()
    marks: dict[str, float] = {}
    try:
        with probe.installed():
            marks["start"] = time.monotonic()
            seams = probe.timed(Cloud.of(cloud.connect(conf, read_only=False)))
            verification = seams.keystone(identity)
            marks["verified"] = time.monotonic()
            planned = make_plan(seams, identity, policies, settings, verification=verification)
            marks["planned"] = time.monotonic()
            audit_planned(trail, planned)
            plan = planned.plan
            if plan.held:
                notes.append(f"plan held ({'; '.join(plan.held)}): applied as with --approve")
            if plan.incomplete:
                notes.append(f"plan incomplete: {'; '.join(plan.incomplete)}")
            marks["audited"] = time.monotonic()
            store.plans.save(plan)  # as apply does before it executes
            report = execute_plan(
                seams,
                plan,
                policies,
                settings,
                store=store,
                trail=trail,
                dry_run=False,
                observers=[probe],
                # As `apply --project ID --yes` decides: no pause after its own discovery.
                recheck_first=recheck_needed(argparse.Namespace(plan_file=None, yes=True)),
            )
            marks["executed"] = time.monotonic()
            trail.checkpoint("apply")
            marks["end"] = time.monotonic()
    finally:
        store.close()
    counts = report.counts()
    notes.append(
        f"{len(plan.steps)} steps: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    )
    failed = [o for o in report.outcomes.values() if not o.status.successful]
    for outcome in failed[:5]:
        notes.append(f"{outcome.step_id}: {outcome.status.value}: {outcome.reason}")
    phases = reaper_phases(marks, probe)
    notes += reaper_timeline(marks["start"], probe)
    return marks["end"] - marks["start"], phases, notes


def reaper_phases(marks: Mapping[str, float], probe: ReaperProbe) -> list[Phase]:
    """verify, discovery, re-check, waves, confirmation tail: where reaper's time goes."""
    recheck = probe.discoveries[1] if len(probe.discoveries) > 1 else None
    first_step = min(probe.started.values(), default=marks["executed"])
    phases = [
        Phase("connect + verify", marks["start"], marks["verified"]),
        Phase("discovery + policies + plan", marks["verified"], marks["planned"]),
        Phase("audit of the plan", marks["planned"], marks["audited"]),
    ]
    if recheck:
        phases.append(Phase("save plan + re-check discovery", marks["audited"], first_step))
    last_start = max(probe.started.values(), default=first_step)
    phases.append(Phase("waves (actions + confirmations)", first_step, marks["executed"]))
    phases.append(Phase("audit checkpoint", marks["executed"], marks["end"]))
    confirm_time = sum(end - begin for _, _, begin, end in probe.confirms)
    by_type = collections.Counter(rtype for rtype, *_ in probe.confirms)
    phases[-2].note = (
        f"{len(probe.confirms)} confirmation listings ({confirm_time:.1f} s in them: "
        + ", ".join(f"{t.split('.', 1)[1]} {n}" for t, n in sorted(by_type.items()))
        + f"); last step started {last_start - first_step:.1f} s into the waves"
    )
    return phases


def reaper_timeline(start: float, probe: ReaperProbe) -> list[str]:
    """Per resource type: when its first step started and its last one finished."""
    spans: dict[str, list[float]] = {}
    statuses: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for sid, rtype in probe.types.items():
        began = probe.started.get(sid)
        ended, status = probe.finished.get(sid, (None, "unfinished"))
        statuses[rtype][status] += 1
        points = [p - start for p in (began, ended) if p is not None]
        if points:
            span = spans.setdefault(rtype, [min(points), max(points)])
            span[0], span[1] = min(span[0], *points), max(span[1], *points)
    lines = []
    for rtype, (first, last) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        what = ", ".join(f"{n} {s}" for s, n in sorted(statuses[rtype].items()))
        lines.append(f"  {rtype:<26} {first:6.1f} .. {last:6.1f} s  ({what})")
    return ["timeline (seconds from the start):", *lines]


# -- openstacksdk project_cleanup ------------------------------------------------------------


ASYNC_KINDS = ("servers", "snapshots", "volumes")


def listed_ids(conn: Connection, project_id: str, kind: str) -> set[str]:
    """One listing of ``kind`` for the project, as an admin: the ids still there."""
    pid = project_id
    if kind == "servers":
        items: Iterable[Any] = conn.compute.servers(
            details=False, all_projects=True, project_id=pid
        )
    elif kind == "volumes":
        items = conn.block_storage.volumes(details=False, all_projects=True, project_id=pid)
    elif kind == "snapshots":
        items = conn.block_storage.snapshots(details=False, all_projects=True, project_id=pid)
    else:
        raise ValueError(kind)
    return {item.id for item in items}


def wait_listed_gone(
    conn: Connection,
    project_id: str,
    kinds: Sequence[str],
    *,
    ids: Mapping[str, set[str]] | None = None,
    interval: float,
    timeout: float,
) -> int:
    """Poll one listing per kind still holding something until nothing (of ``ids``) is listed.

    Returns the number of polling rounds. Raises :class:`CleanerError` on timeout.
    """
    remaining = {k: None if ids is None else set(ids[k]) for k in kinds}
    deadline = time.monotonic() + timeout
    rounds = 0
    while True:
        rounds += 1
        for kind in list(remaining):
            listed = listed_ids(conn, project_id, kind)
            wanted = remaining[kind]
            still = listed if wanted is None else listed & wanted
            if still:
                remaining[kind] = still if wanted is not None else None
            else:
                del remaining[kind]
        if not remaining:
            return rounds
        if time.monotonic() > deadline:
            raise CleanerError(f"still listed after {timeout:.0f}s: {', '.join(remaining)}")
        time.sleep(interval)


def run_sdk(bench: Bench, tenant: Tenant) -> tuple[float, list[Phase], list[str]]:
    """openstacksdk's project_cleanup scoped to the tenant, then polling until confirmed."""
    admin = bench.admin
    role = admin.identity.find_role("admin", ignore_missing=False)
    admin.identity.assign_project_role_to_user(tenant.project_id, admin.current_user_id, role)
    start = time.monotonic()
    scoped = sdk_connection(
        bench.proxy, bench.auth, bench.testbed.region, project_id=tenant.project_id
    )
    scoped.project_cleanup(dry_run=False, wait_timeout=bench.args.timeout)
    returned = time.monotonic()
    poller = bench.proxied_admin()
    rounds = wait_listed_gone(
        poller,
        tenant.project_id,
        ASYNC_KINDS,
        interval=bench.args.poll_interval,
        timeout=bench.args.timeout,
    )
    if bench.args.extras:
        rounds += wait_load_balancers_gone(
            poller,
            tenant.project_id,
            interval=bench.args.poll_interval,
            timeout=bench.args.timeout,
        )
    end = time.monotonic()
    phases = [
        Phase("project_cleanup()", start, returned),
        Phase("polling until gone", returned, end, note=f"{rounds} rounds"),
    ]
    return end - start, phases, []


# -- the ideal: a bare parallel loop -------------------------------------------------------------


def _with_retries(call: Callable[[], Any], *, attempts: int = 30, wait: float = 1.0) -> str:
    """Call; 404 is done; 400/409/5xx and connection errors are tried again after ``wait``.

    The least logic that makes a bare loop finish: Cinder answers 400 while
    a volume detaches, Neutron 409 while a port is still being released.
    """
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as sdk_exc

    for attempt in range(1, attempts + 1):
        try:
            call()
            return "done"
        except sdk_exc.NotFoundException:
            return "gone"
        except sdk_exc.HttpException as exc:
            if exc.status_code not in (400, 409, 500, 502, 503, 504) or attempt == attempts:
                raise
        except ks_exc.ConnectionError:
            if attempt == attempts:
                raise
        time.sleep(wait)
    raise AssertionError("unreachable")


def run_ideal(bench: Bench, tenant: Tenant) -> tuple[float, list[Phase], list[str]]:
    """Delete the project in Keystone, then the bare loop, timed to the last confirmation."""
    bench.admin.identity.delete_project(tenant.project_id)
    pid = tenant.project_id
    interval, timeout = bench.args.poll_interval, bench.args.timeout
    phases: list[Phase] = []
    retried = collections.Counter[str]()
    start = time.monotonic()
    conn = bench.proxied_admin()
    net, bs, cp, img = conn.network, conn.block_storage, conn.compute, conn.image

    with concurrent.futures.ThreadPoolExecutor(IDEAL_THREADS) as pool:

        def phase(name: str, calls: Sequence[Callable[[], Any]]) -> None:
            begun = time.monotonic()
            results = list(pool.map(lambda c: _with_retries(c), calls))
            retried.update(f"{name}: {r}" for r in results if r != "done")
            phases.append(Phase(name, begun, time.monotonic(), note=f"{len(calls)} calls"))

        begun = time.monotonic()
        listings = {
            "servers": pool.submit(
                lambda: list(cp.servers(details=False, all_projects=True, project_id=pid))
            ),
            "volumes": pool.submit(
                lambda: list(bs.volumes(details=False, all_projects=True, project_id=pid))
            ),
            "snapshots": pool.submit(
                lambda: list(bs.snapshots(details=False, all_projects=True, project_id=pid))
            ),
            "floating_ips": pool.submit(lambda: list(net.ips(project_id=pid))),
            "ports": pool.submit(lambda: list(net.ports(project_id=pid))),
            "routers": pool.submit(lambda: list(net.routers(project_id=pid))),
            "subnets": pool.submit(lambda: list(net.subnets(project_id=pid))),
            "networks": pool.submit(lambda: list(net.networks(project_id=pid))),
            "security_groups": pool.submit(lambda: list(net.security_groups(project_id=pid))),
            "images": pool.submit(lambda: list(img.images(owner=pid, visibility="all"))),
        }
        extras = bench.args.extras
        if extras:
            listings["containers"] = pool.submit(lambda: containers(conn, pid))
            listings["load_balancers"] = pool.submit(lambda: load_balancers(conn, pid))
            listings["bulk"] = pool.submit(lambda: [has_bulk_delete(conn)])
        found = {kind: future.result() for kind, future in listings.items()}
        phases.append(Phase("listings", begun, time.monotonic()))

        def wait(kind: str, ids: set[str]) -> None:
            begun = time.monotonic()
            rounds = wait_listed_gone(
                conn, pid, [kind], ids={kind: ids}, interval=interval, timeout=timeout
            )
            phases.append(Phase(f"wait {kind} gone", begun, time.monotonic(), note=f"{rounds}"))

        def delete_and_wait(kind: str, delete: Callable[[str], Any]) -> None:
            objs = found[kind]
            phase(kind, [lambda o=o: delete(o.id) for o in objs])
            if objs:
                time.sleep(interval)
                wait(kind, {o.id for o in objs})

        if extras:
            # Independent of everything else: in the first phase, in parallel.
            bulk = found["bulk"][0]
            phase(
                "load balancers + containers",
                [load_balancer_deletion(conn, lb) for lb in found["load_balancers"]]
                + [container_deletion(conn, pid, c, bulk=bulk) for c in found["containers"]],
            )
        # Servers before their floating IPs, as project_cleanup does: an address released
        # while its server lives makes Nova refresh that server's network information
        # (a network-changed event each) just as its deletion needs Neutron.
        delete_and_wait("servers", cp.delete_server)

        def block_storage() -> None:
            delete_and_wait("snapshots", bs.delete_snapshot)
            delete_and_wait("volumes", bs.delete_volume)

        def network() -> None:
            phase("floating IPs", [lambda f=f: net.delete_ip(f.id) for f in found["floating_ips"]])
            interfaces = [p for p in found["ports"] if p.device_owner in INTERFACE_OWNERS]
            phase(
                "router interfaces",
                [
                    lambda p=p: net.remove_interface_from_router(p.device_id, port=p.id)
                    for p in interfaces
                ],
            )
            standalone = [p for p in found["ports"] if not p.device_owner]
            phase("standalone ports", [lambda p=p: net.delete_port(p.id) for p in standalone])
            phase("routers", [lambda r=r: net.delete_router(r.id) for r in found["routers"]])
            if extras and found["load_balancers"]:
                # The VIP port blocks the subnet's deletion until the cascade has run.
                begun = time.monotonic()
                rounds = wait_load_balancers_gone(conn, pid, interval=interval, timeout=timeout)
                phases.append(
                    Phase("wait load balancers gone", begun, time.monotonic(), note=f"{rounds}")
                )
            phase("subnets", [lambda s=s: net.delete_subnet(s.id) for s in found["subnets"]])
            phase("networks", [lambda n=n: net.delete_network(n.id) for n in found["networks"]])
            groups = sorted(found["security_groups"], key=lambda g: g.name == "default")
            phase("security groups", [lambda g=g: net.delete_security_group(g.id) for g in groups])

        # Once the servers are gone, Cinder's and Neutron's work side by side, as
        # project_cleanup runs its block-storage and network cleanups (and images) in
        # parallel after compute's; each branch is still phase by phase.
        with concurrent.futures.ThreadPoolExecutor(3) as branches:
            for branch in [
                branches.submit(block_storage),
                branches.submit(network),
                branches.submit(
                    lambda: phase(
                        "images", [lambda i=i: img.delete_image(i.id) for i in found["images"]]
                    )
                ),
            ]:
                branch.result()
        # The same deletions as reaper's: its plan releases the three quota sets too.
        phase(
            "quotas",
            [
                lambda: cp.revert_quota_set(pid),
                lambda: bs.revert_quota_set(pid),
                lambda: net.delete_quota(pid),
                *([account_deletion(conn, pid)] if extras and found["containers"] else []),
            ],
        )
    end = time.monotonic()
    notes = [f"not 'done' at first answer: {dict(retried)}"] if retried else []
    return end - start, phases, notes


RUNNERS: Mapping[str, Callable[[Bench, Tenant], tuple[float, list[Phase], list[str]]]] = {
    "reaper": run_reaper,
    "sdk": run_sdk,
    "ideal": run_ideal,
}


# -- tenants ------------------------------------------------------------------------------


def tenant_of(record: Mapping[str, Any]) -> Tenant:
    return Tenant(**record["tenant"])


def build_cell_tenant(bench: Bench, cell: Cell) -> Tenant:
    """Build the cell's tenant, recording its name first so a crash leaves a trace.

    A loaded testbed sometimes drops a connection mid-build (an image upload
    reset, a server that never leaves BUILD): what was made is reaped and the
    build starts over, up to ``--build-retries`` times.
    """
    for attempt in range(bench.args.build_retries + 1):
        name = f"bench-{cell.size.name}-{cell.latency_ms}ms-{cell.cleaner}-{secrets.token_hex(3)}"
        bench.state.set_tenant(cell.key, name=name, status="building")
        if attempt:
            log(f"building {cell.key} again ({name})")
        started = time.monotonic()
        try:
            tenant = build_tenant(bench.admin, cell.size.spec(), name=name)
            if cell.size.extras:
                bench.state.set_tenant(cell.key, tenant=dataclasses.asdict(tenant))
                give_extras(tenant, cell.size.extras)
        except Exception as exc:
            log(f"building {cell.key} failed: {type(exc).__name__}: {exc}")
            record = bench.state.tenant(cell.key)
            if record:
                dispose(bench, cell.key, record)
            if attempt == bench.args.build_retries:
                raise
            continue
        bench.state.set_tenant(cell.key, status="built", tenant=dataclasses.asdict(tenant))
        log(f"built {cell.key} ({name}) in {time.monotonic() - started:.0f}s: {tenant.timings}")
        return tenant
    raise AssertionError("unreachable")


def usable(bench: Bench, record: Mapping[str, Any] | None) -> bool:
    """A tenant a previous run built and nobody cleaned yet."""
    if not record or record.get("status") != "built":
        return False
    project = bench.admin.identity.find_project(record["tenant"]["project_id"])
    return project is not None


def ensure_tenants(bench: Bench, cells: Sequence[Cell]) -> dict[str, Tenant]:
    """A built tenant for every cell: those kept from an earlier run, the rest built now."""
    ready: dict[str, Tenant] = {}
    missing: list[Cell] = []
    for cell in cells:
        record = bench.state.tenant(cell.key)
        if usable(bench, record):
            assert record is not None
            ready[cell.key] = tenant_of(record)
            log(f"reusing the tenant built earlier for {cell.key}")
        else:
            if record and record.get("status") == "done":
                bench.state.drop_tenant(cell.key)
            elif record:
                dispose(bench, cell.key, record)
            missing.append(cell)
    if missing:
        log(
            f"building {len(missing)} tenants of size {cells[0].size.name} "
            f"({bench.args.build_parallel} at a time) ..."
        )
        with concurrent.futures.ThreadPoolExecutor(bench.args.build_parallel) as pool:
            futures = {cell.key: pool.submit(build_cell_tenant, bench, cell) for cell in missing}
            for key, future in futures.items():
                try:
                    ready[key] = future.result()
                except Exception as exc:
                    log(f"{key}: no tenant, giving up: {type(exc).__name__}: {exc}")
    return ready


def dispose(bench: Bench, key: str, record: Mapping[str, Any]) -> None:
    """Remove a tenant a run left behind (half-built, or cleaned without a result)."""
    identity = bench.admin.identity
    project_id = record.get("tenant", {}).get("project_id")
    user_id = record.get("tenant", {}).get("user_id")
    if project_id is None:
        project = identity.find_project(record["name"], domain_id="default")
        project_id = project.id if project is not None else None
    if user_id is None:
        user = identity.find_user(f"{record['name']}-user", domain_id="default")
        user_id = user.id if user is not None else None
    if user_id:
        identity.delete_user(user_id, ignore_missing=True)
    if project_id:
        identity.delete_project(project_id, ignore_missing=True)
        log(f"reaping what {key} left behind ({project_id})")
        reap(bench, project_id)
    bench.state.drop_tenant(key)


def reap(bench: Bench, project_id: str) -> str:
    """Untimed cleanup after a cell, through the proxy without added latency."""
    bench.proxy.configure(Faults())
    return reap_project(bench.reaper, project_id)


# -- one cell ----------------------------------------------------------------------------------


def measure(bench: Bench, cell: Cell, tenant: Tenant) -> Measurement:
    """Run the cell's cleaner on its tenant; count requests and leftovers; clean up after."""
    proxy = bench.proxy
    proxy.configure(Faults(latency=cell.latency_ms / 1000.0))
    bench.state.set_tenant(cell.key, status="used")
    load = machine_load()
    count = resource_count(tenant, cell.size.extras)
    log(f"{cell.key}: cleaning {tenant.project_id} ({count} resources); {load}")
    proxy.clear()
    began = time.monotonic()
    cpu = time.process_time()
    notes: list[str] = []
    try:
        wall, phases, notes = RUNNERS[cell.cleaner](bench, tenant)
    except Exception as exc:
        wall, phases = time.monotonic() - began, []
        notes = [f"FAILED: {type(exc).__name__}: {exc}"]
        log(f"{cell.key}: {notes[0]}")
    # On a host the cleaner shares with the cloud, its own CPU is the services' loss.
    notes.append(
        f"CPU of this process (cleaner and fault proxy): {time.process_time() - cpu:.1f} s"
    )
    seen = proxy.seen()
    proxy.configure(Faults())
    counted = window(seen, began, time.monotonic())
    for phase in phases:
        phase.requests = by_method(window(counted, phase.start, phase.end))
    name = cell.key.replace("/", "-")
    write_requests(bench.args.workdir / f"requests-{name}.txt", counted, phases)
    write_trace(bench.args.workdir / f"trace-{name}.txt", counted, began)
    left = {kind: len(items) for kind, items in leftovers(bench.admin, tenant.project_id).items()}
    if cell.size.extras:
        left.update(extra_leftovers(bench.admin, tenant.project_id))
    measurement = Measurement(
        cell=cell.key,
        cleaner=cell.cleaner,
        wall=round(wall, 2),
        requests=by_method(counted),
        leftovers=left,
        resources=count,
        load=load,
        phases=[
            {
                "name": p.name,
                "from": round(p.start - began, 2),
                "seconds": round(p.seconds, 2),
                "requests": p.requests,
                "note": p.note,
            }
            for p in phases
        ],
        notes=notes,
    )
    log(
        f"{cell.key}: {wall:.1f} s, {measurement.total} requests "
        f"({methods_text(measurement.requests)}), leftovers {left or 0}"
    )
    print_details(measurement)
    # Untimed: the project goes (sdk ran before its deletion), its quotas and anything
    # left are reaped, so the next cell starts on a clean cloud.
    bench.admin.identity.delete_project(tenant.project_id, ignore_missing=True)
    bench.admin.identity.delete_user(tenant.user_id, ignore_missing=True)
    try:
        outcome = reap(bench, tenant.project_id)
        log(f"{cell.key}: untimed reap of what remains (quotas, leftovers): {outcome}")
    except Exception as exc:
        log(f"{cell.key}: the untimed reap failed: {type(exc).__name__}: {exc}")
    bench.state.set_tenant(cell.key, status="done")
    return measurement


# -- output ------------------------------------------------------------------------------------


def write_requests(path: Path, seen: Sequence[Seen], phases: Sequence[Phase]) -> None:
    """Every request of a cell by phase, service, method and shape (ids blanked), counted.

    Where the requests went, when the totals say too many: one line per kind of request.
    """
    lines = []
    for name, start, end in [(p.name, p.start, p.end) for p in phases] or [("all", 0.0, 1e18)]:
        counts = collections.Counter(
            (s.service, s.method, shape(s.path)) for s in window(seen, start, end)
        )
        lines.append(f"{name}: {sum(counts.values())}")
        lines += [
            f"  {n:4d} {svc} {method} {what}" for (svc, method, what), n in counts.most_common()
        ]
    path.write_text("\n".join(lines) + "\n")


def write_trace(path: Path, seen: Sequence[Seen], began: float) -> None:
    """Every request of a cell in the order sent: when (from the cell's start), how long, what.

    Where the time went between two requests, and which URL was asked twice.
    """
    lines = [
        f"{s.started - began:7.2f} {s.elapsed:6.2f} {s.status:3d} {s.service} {s.method} {s.path}"
        for s in sorted(seen, key=lambda s: s.started)
    ]
    path.write_text("\n".join(lines) + "\n")


def print_details(m: Measurement) -> None:
    lines = [f"{m.cell}: {m.wall:.1f} s, {m.total} requests ({methods_text(m.requests)})"]
    for phase in m.phases:
        reqs = methods_text(phase["requests"])
        note = f"  [{phase['note']}]" if phase["note"] else ""
        lines.append(
            f"  {phase['name']:<34} at {phase['from']:6.1f} s  {phase['seconds']:6.1f} s  "
            f"{reqs}{note}"
        )
    lines += [f"  {note}" for note in m.notes]
    if m.leftovers:
        lines.append(f"  LEFTOVERS: {m.leftovers}")
    print("\n".join(lines), flush=True)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def print_table(state: State, cells: Sequence[Cell]) -> None:
    header = (
        f"{'size':<7}{'latency':>8}  {'cleaner':<8}{'wall s':>8}{'x ideal':>9}"
        f"{'requests':>10}{'x ideal':>9}  {'by method':<36}{'leftovers':>10}  baseline"
    )
    print()
    print("Cleanup of one tenant, to confirmed gone; every cleaner through the fault proxy")
    print("(latency 0: forwarded as is; otherwise added to every request).")
    print(header)
    print("-" * len(header))
    for cell in cells:
        m = state.result(cell.key)
        ideal = state.result(Cell(cell.size, cell.latency_ms, "ideal").key)
        baseline = (
            BASELINES.get(cell.size.name, {}).get(cell.cleaner, "") if not cell.latency_ms else ""
        )
        if m is None:
            print(f"{cell.size.name:<7}{cell.latency_ms:>6}ms  {cell.cleaner:<8}  (not measured)")
            continue
        failed = any(n.startswith("FAILED") for n in m.notes)
        print(
            f"{cell.size.name:<7}{cell.latency_ms:>6}ms  {cell.cleaner:<8}"
            f"{m.wall:>8.1f}{ratio(m.wall, ideal.wall if ideal else None):>9}"
            f"{m.total:>10}{ratio(m.total, ideal.total if ideal else None):>9}  "
            f"{methods_text(m.requests):<36}{m.leftover_count:>10}  "
            f"{'FAILED ' if failed else ''}{baseline}"
        )
    print()
    for size in dict.fromkeys(c.size for c in cells):
        for line in verdicts(state, size, sorted({c.latency_ms for c in cells})):
            print(line)


def verdicts(state: State, size: Size, latencies: Sequence[int]) -> list[str]:
    """The four targets for one size, as PASS/FAIL lines (what was measured only)."""

    def get(latency: int, cleaner: str) -> Measurement | None:
        return state.result(Cell(size, latency, cleaner).key)

    lines = []
    r0, i0 = get(0, "reaper"), get(0, "ideal")
    if r0 and i0:
        x = r0.wall / i0.wall
        lines.append(
            f"{size.name}: no latency: reaper {r0.wall:.1f} s = {x:.2f}x the ideal's "
            f"{i0.wall:.1f} s (target <= 1.10x): {'PASS' if x <= 1.1 else 'FAIL'}"
        )
    for latency in (lat for lat in latencies if lat):
        rl, sl, s0 = get(latency, "reaper"), get(latency, "sdk"), get(0, "sdk")
        if r0 and rl and s0 and sl:
            lost_r, lost_s = rl.wall - r0.wall, sl.wall - s0.wall
            x = lost_r / lost_s if lost_s > 0 else float("inf")
            lines.append(
                f"{size.name}: lost to {latency} ms: reaper {lost_r:+.1f} s, project_cleanup "
                f"{lost_s:+.1f} s: {x:.2f} of it (target <= 0.10): {'PASS' if x <= 0.1 else 'FAIL'}"
            )
    for latency in latencies:
        # Issue 18: ahead of the best of the two peers, in time and in the SDK's requests.
        r, s, i = get(latency, "reaper"), get(latency, "sdk"), get(latency, "ideal")
        peers = [m for m in (s, i) if m]
        if r and peers:
            best = min(peers, key=lambda m: m.wall)
            x = r.wall / best.wall
            lines.append(
                f"{size.name}: {latency} ms: reaper {r.wall:.1f} s = {x:.2f}x the best peer's "
                f"({best.cleaner}, {best.wall:.1f} s) (target <= 0.90x): "
                f"{'PASS' if x <= 0.9 else 'FAIL'}"
            )
        if r and s:
            x = r.total / s.total
            lines.append(
                f"{size.name}: {latency} ms: reaper {r.total} requests = {x:.2f}x "
                f"project_cleanup's {s.total} (target <= 0.70x): {'PASS' if x <= 0.7 else 'FAIL'}"
            )
    for latency in latencies:
        r, i = get(latency, "reaper"), get(latency, "ideal")
        if r and i:
            x = r.total / i.total
            lines.append(
                f"{size.name}: {latency} ms: reaper {r.total} requests = {x:.2f}x the ideal's "
                f"{i.total} (target <= 1.10x): {'PASS' if x <= 1.1 else 'FAIL'}"
            )
    for latency in latencies:
        for cleaner in CLEANERS:
            m = get(latency, cleaner)
            if m and m.leftover_count:
                lines.append(f"{size.name}: {latency} ms: {cleaner} left {m.leftovers}")
        r = get(latency, "reaper")
        if r:
            lines.append(
                f"{size.name}: {latency} ms: reaper leftovers {r.leftover_count} (target 0): "
                f"{'PASS' if not r.leftover_count else 'FAIL'}"
            )
    return lines


# -- main ----------------------------------------------------------------------------------------


def parse_list(text: str, choices: Iterable[str] | None = None) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if choices is not None:
        unknown = set(items) - set(choices)
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(sorted(unknown))}")
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cleanup_bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        type=lambda t: [Size.parse(s) for s in parse_list(t)],
        default=[SIZES["small"], SIZES["large"]],
        help="tiny, small, large or SERVERS/VOLUMES/SNAPSHOTS/FIPS, comma-separated "
        "(default: small,large)",
    )
    parser.add_argument(
        "--extras",
        type=Extras.parse,
        default=None,
        metavar="CONTAINERSxOBJECTS",
        help="give every tenant that many Swift containers of that many tiny objects and a "
        "load balancer (the testbed must run swift,octavia), e.g. 3x200",
    )
    parser.add_argument(
        "--latency",
        type=lambda t: [int(x) for x in parse_list(t)],
        default=[0, 100],
        help="milliseconds added to every request, comma-separated (default: 0,100)",
    )
    parser.add_argument(
        "--cleaners",
        type=lambda t: parse_list(t, CLEANERS),
        default=list(CLEANERS),
        help="reaper, sdk, ideal, comma-separated (default: all three)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "reaper-cleanup-bench",
        help="state (tenants built, measurements taken) and reaper's home; default %(default)s",
    )
    parser.add_argument("--again", action="store_true", help="retake measurements already taken")
    parser.add_argument(
        "--report", action="store_true", help="only print the measurements already taken"
    )
    parser.add_argument(
        "--build-parallel", type=int, default=3, help="tenants built at once (default 3)"
    )
    parser.add_argument(
        "--build-retries", type=int, default=2, help="new tries of a failed tenant build"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds to let the services settle between builds and measurements",
    )
    parser.add_argument("--poll-interval", type=float, default=POLL_INTERVAL)
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds a cleaner may take before failing"
    )
    parser.add_argument(
        "--executor",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an [executor] option for reaper (repeatable), e.g. confirm_interval=0.5",
    )
    parser.add_argument(
        "--reverse",
        action="store_true",
        help="run each size's cells in the reverse order. With --together, every cell "
        "cleaned leaves fewer servers on the one nova-compute, so later cells run on a lighter "
        "host: a second run with --reverse (and another --workdir) measures the same cells "
        "the other way round",
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="build a size's tenants together (--build-parallel at a time) before its first "
        "cell, instead of each cell's tenant just before the cell: faster, but the first "
        "cell then runs on a host still holding every other tenant's servers, and position "
        "in the run moves a cell's time by up to 2x",
    )
    args = parser.parse_args(argv)
    args.sizes = [size.with_extras(args.extras) for size in args.sizes]
    cells = [
        Cell(size, latency, cleaner)
        for size in args.sizes
        for latency in args.latency
        for cleaner in args.cleaners
    ]
    args.workdir.mkdir(parents=True, exist_ok=True)
    state = State(args.workdir / "state.json")
    if args.report:
        print_table(state, cells)
        return 0
    if args.again:
        for cell in cells:
            state.drop_result(cell.key)
    executor = dict(item.split("=", 1) for item in args.executor)
    print(f"cleanup benchmark: {len(cells)} cells, workdir {args.workdir}; {machine_load()}")
    with open_testbed() as testbed:
        admin = testbed.connect()
        with FaultProxy(upstreams_of(admin)) as proxy:
            bench = Bench(
                testbed=testbed,
                admin=admin,
                proxy=proxy,
                reaper=ReaperHome(args.workdir / "reaper", proxy, testbed, executor),
                state=state,
                args=args,
            )
            wanted = {c.key for c in cells}
            for key, record in state.tenants().items():
                if record.get("status") in ("building", "used") or (
                    key not in wanted and record.get("status") == "failed"
                ):
                    dispose(bench, key, record)
            for size, group in itertools.groupby(cells, key=lambda c: c.size):
                todo = [c for c in group if state.result(c.key) is None]
                if not todo:
                    continue
                ordered = list(reversed(todo)) if args.reverse else todo
                if args.together:
                    tenants = ensure_tenants(bench, todo)
                    time.sleep(args.settle)
                for cell in ordered:
                    if not args.together:
                        tenants = ensure_tenants(bench, [cell])
                        time.sleep(args.settle)
                    tenant = tenants.get(cell.key)
                    if tenant is None:
                        log(f"{cell.key}: no tenant, skipped")
                        continue
                    state.set_result(cell.key, measure(bench, cell, tenant))
                    time.sleep(args.settle)
                log(f"size {size.name} done")
    print_table(state, cells)
    print(f"\n{machine_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
