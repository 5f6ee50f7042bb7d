// SPDX-License-Identifier: MIT
// prof_stress - the heap-profile controls under load, for tests/integration/prof_stress.sh.
// Worker threads allocate (malloc and operator new) and throw C++ exceptions through deep
// stacks while profiling samples densely; the main thread meanwhile writes dumps, resets
// the profile with new rates, switches the backtrace walker and forks children that
// allocate, dump and exit. A deadlock shows as a timeout, a broken unwinder as a crash or
// a wrong catch. Controls are reached with dlsym (memshim_ctl_*), so it needs the shim.
//
//   prof_stress DIR [SECONDS [THREADS]]    (defaults 3, 3) -> "ok dumps=N forks=N"
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using ctl_set_fn = int (*)(const char *, const char *);
using ctl_get_fn = int (*)(const char *, char *, size_t);

static std::atomic<bool> stop{false};
static std::atomic<long> caught{0};

static int deep_throw(int depth, int tag) {
    std::vector<char> local(64 + static_cast<size_t>(depth) * 8, 'x');
    if (depth == 0) throw std::runtime_error("depth reached " + std::to_string(tag));
    return deep_throw(depth - 1, tag) + local[0];
}

static void worker(unsigned seed) {
    std::vector<void *> ring(1024, nullptr);
    unsigned x = seed;
    while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 2000; i++) {
            x = x * 1103515245u + 12345u;
            size_t slot = (x >> 8) % ring.size();
            free(ring[slot]);
            ring[slot] = malloc(16 + (x >> 20) % 2048);
            auto *s = new std::string(32 + (x >> 16) % 200, 'y');
            delete s;
        }
        try {
            deep_throw(20, static_cast<int>(x & 0xff));
        } catch (const std::runtime_error &e) {
            if (std::strncmp(e.what(), "depth reached ", 14) == 0) caught++;
        }
    }
    for (void *p : ring)
        free(p);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: prof_stress DIR [SECONDS [THREADS]]\n");
        return 2;
    }
    std::string dir = argv[1];
    int seconds = argc > 2 ? std::atoi(argv[2]) : 3;
    int nthreads = argc > 3 ? std::atoi(argv[3]) : 3;
    auto set = reinterpret_cast<ctl_set_fn>(dlsym(RTLD_DEFAULT, "memshim_ctl_set_str"));
    auto get = reinterpret_cast<ctl_get_fn>(dlsym(RTLD_DEFAULT, "memshim_ctl_get_str"));
    if (set == nullptr || get == nullptr) {
        std::printf("not under libmemshim\n");
        return 3;
    }
    if (set("prof.dump_dir", dir.c_str()) != 0 || set("prof.reset", "10") != 0 ||
        set("prof.active", "true") != 0) {
        std::printf("cannot set up profiling\n");
        return 1;
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < nthreads; t++)
        threads.emplace_back(worker, 777u + static_cast<unsigned>(t));

    static const char *const rates[] = {"8", "12", "10", "14"};
    static const char *const walkers[] = {"libgcc", "libunwind"};
    long dumps = 0, forks = 0, errors = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    for (unsigned round = 0; std::chrono::steady_clock::now() < until; round++) {
        if (set("prof.dump", "") == 0)
            dumps++;
        else
            errors++;
        if (round % 3 == 0 && set("prof.reset", rates[round / 3 % 4]) != 0) errors++;
        if (round % 4 == 1 && set("prof.unwinder", walkers[round / 4 % 2]) != 0) errors++;
        if (round % 5 == 2) {
            std::fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                // A child of a multithreaded parent: allocate, throw, dump, exit.
                std::vector<std::string> v(100, std::string(100, 'c'));
                int crc = 0;
                try {
                    deep_throw(10, 1);
                } catch (const std::runtime_error &) {
                    crc = 0;
                }
                char last[512];
                if (set("prof.dump", "") != 0 || get("prof.last_dump", last, sizeof(last)) != 0)
                    crc = 4;
                std::string want = dir + "/memshim." + std::to_string(getpid()) + ".0.heap";
                if (crc == 0 && want != last) crc = 5;
                _exit(crc);
            }
            int st = 0;
            if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                std::printf("child failed: status %d\n", st);
                errors++;
            }
            forks++;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop = true;
    for (auto &t : threads)
        t.join();
    if (errors != 0 || caught.load() == 0) {
        std::printf("errors=%ld caught=%ld\n", errors, caught.load());
        return 1;
    }
    std::printf("ok dumps=%ld forks=%ld exceptions=%ld\n", dumps, forks, caught.load());
    return 0;
}
