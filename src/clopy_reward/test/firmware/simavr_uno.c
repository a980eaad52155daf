/* An Arduino Uno in simavr for the Firmata tests: runs an ATmega328P firmware (an
 * Intel HEX such as StandardFirmata's, loaded at flash address 0 as a flashed Uno
 * without bootloader runs it, or an ELF) at 16 MHz, paced to real time, with UART0 on a pseudo-terminal (simavr's uart_pty
 * part). Prints "pty <path>" once the port is there, then one line per change of an
 * Arduino digital pin (0-7 = PD0-7, 8-13 = PB0-5, 14-19 = PC0-5):
 * "pin <arduino pin> <level> <avr time ns> <CLOCK_MONOTONIC ns>" (the AVR's own time,
 * and the host's when the emulated pin changed: Python's time.monotonic()). Ends on
 * SIGTERM or SIGINT. The serial rate is the firmware's own (its UBRR0): simavr times
 * each byte by it, the pseudo-terminal ignores the rate the host side sets.
 * Build: cc simavr_uno.c -I/usr/include/simavr -lsimavr -lsimavrparts -lpthread -lutil */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_hex.h>
#include <sim_time.h>
#include <avr_ioport.h>
#include <parts/uart_pty.h>

static volatile sig_atomic_t stop;
static avr_t *avr;
static uart_pty_t uart;

/* an Intel HEX's flash image into f; 0 on success */
static int read_hex(const char *path, elf_firmware_t *f)
{
    ihex_chunk_p chunks = NULL;
    int n = read_ihex_chunks(path, &chunks);
    if (n <= 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (chunks[i].baseaddr >= 0x10000u) /* simavr's EEPROM/fuse segments: not used */
            continue;
        if (f->flash) {
            fprintf(stderr, "%s: more than one flash segment\n", path);
            return -1;
        }
        f->flash = chunks[i].data;
        f->flashsize = chunks[i].size;
        f->flashbase = chunks[i].baseaddr;
    }
    return f->flash ? 0 : -1;
}

static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void on_pin(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    printf("pin %d %u %llu %llu\n", (int)(intptr_t)param, value & 1,
           (unsigned long long)avr_cycles_to_nsec(avr, avr->cycle), (unsigned long long)now_ns());
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s firmware.hex|firmware.elf\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    elf_firmware_t f;
    memset(&f, 0, sizeof(f));
    size_t len = strlen(argv[1]);
    int hex = len > 4 && strcmp(argv[1] + len - 4, ".hex") == 0;
    if ((hex ? read_hex(argv[1], &f) : elf_read_firmware(argv[1], &f)) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    avr = avr_make_mcu_by_name("atmega328p");
    if (!avr) {
        fprintf(stderr, "simavr has no atmega328p\n");
        return 1;
    }
    avr_init(avr);
    f.frequency = 16000000;
    avr_load_firmware(avr, &f);
    avr->frequency = 16000000;

    const char ports[3] = {'D', 'B', 'C'};
    const int first[3] = {0, 8, 14}, count[3] = {8, 6, 6};
    for (int p = 0; p < 3; p++)
        for (int bit = 0; bit < count[p]; bit++)
            avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(ports[p]), bit),
                                    on_pin, (void *)(intptr_t)(first[p] + bit));

    uart_pty_init(avr, &uart);
    uart_pty_connect(&uart, '0');
    printf("pty %s\n", uart.pty.slavename);

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    uint64_t start = now_ns();
    unsigned long steps = 0;
    while (!stop) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "avr stopped (state %d)\n", state);
            break;
        }
        if ((++steps & 0xFFF) == 0) {   /* keep AVR time with the wall clock */
            uint64_t sim = avr_cycles_to_nsec(avr, avr->cycle), wall = now_ns() - start;
            if (sim > wall + 200000) {
                struct timespec d = {0, (long)(sim - wall)};
                if (d.tv_nsec >= 1000000000L) { d.tv_sec = d.tv_nsec / 1000000000L; d.tv_nsec %= 1000000000L; }
                nanosleep(&d, NULL);
            }
        }
    }
    /* no uart_pty_stop(): it signals its thread with SIGINT and joins it, which a
       handled SIGINT never ends; the process exit closes the pty */
    printf("end %llu\n", (unsigned long long)avr_cycles_to_nsec(avr, avr->cycle));
    fflush(stdout);
    _exit(0);
}
