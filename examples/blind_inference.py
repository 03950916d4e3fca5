"""Blind inference: a server predicts galaxy properties from image features it cannot read.

A collaboration member (the *client*) has image embeddings of galaxies from a
proprietary survey. Another group (the *server*) has trained a linear probe that
predicts physical properties from such embeddings. With Paillier encryption the client
sends encrypted features, the server evaluates its probe on them with only the
client's public key, and the client decrypts the predictions: the server never sees the
features or the predictions, the client never sees the probe's weights.

The data are synthetic and seeded: four properties per galaxy (log stellar mass, log
star-formation rate, log half-light radius, Sérsic index) are drawn with realistic
correlations, and a 64-dimensional "image feature" vector is a fixed random nonlinear
map of them plus noise, standing in for a CNN embedding. The server trains a ridge
probe (scikit-learn) on its own synthetic training set, and a small MLP probe (one tanh
hidden layer) that is evaluated blind in rounds: the server computes each linear layer on
ciphertexts, the client applies tanh to what it decrypts and re-encrypts.

Run::

    python examples/blind_inference.py                  # 2048-bit key, 8 galaxies
    python examples/blind_inference.py --bits 1024 --galaxies 4 --plot probe.png
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor

from acie.privacy.blind import BlindInferenceClient, BlindInferenceServer
from acie.privacy.linear import EncryptedLinearLayer
from acie.privacy.network import BlindNetwork, BlindNetworkClient
from acie.privacy.paillier import generate_keypair

PROPERTIES = ("log_stellar_mass", "log_sfr", "log_size", "sersic_n")
UNITS = ("dex (M_sun)", "dex (M_sun/yr)", "dex (kpc)", "dimensionless")
N_FEATURES = 64


def simulate(
    n: int, rng: np.random.Generator, projection: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Galaxy properties (n, 4) and image features (n, 64)."""
    log_mstar = rng.uniform(9.0, 11.5, n)
    quiescent = rng.random(n) < 1.0 / (1.0 + np.exp(-(log_mstar - 10.6) / 0.2))
    # star-forming main sequence at z ~ 0 (slope ~0.8, scatter 0.3 dex), quenched 1 dex below
    log_sfr = 0.8 * (log_mstar - 10.0) + 0.1 - 1.0 * quiescent + rng.normal(0, 0.3, n)
    # size-mass relation (van der Wel et al. 2014 slopes, roughly): R_e in kpc
    log_size = np.where(quiescent, 0.75 * (log_mstar - 10.7) + 0.4, 0.22 * (log_mstar - 10.7) + 0.7)
    log_size = log_size + rng.normal(0, 0.15, n)
    sersic = np.clip(np.where(quiescent, 4.0, 1.2) + rng.normal(0, 0.5, n), 0.5, 6.0)
    props = np.column_stack([log_mstar, log_sfr, log_size, sersic])
    z = (props - [10.25, 0.0, 0.5, 2.5]) / [0.75, 0.7, 0.3, 1.5]
    features = np.tanh(z @ projection[:4] + 0.3 * np.sin(z @ projection[4:8])) + rng.normal(
        0, 0.05, (n, N_FEATURES)
    )
    return props, features


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bits", type=int, default=2048, help="Paillier key size in bits")
    parser.add_argument("--galaxies", type=int, default=8, help="galaxies to predict blindly")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plot", default=None, help="save a PNG of blind predictions vs truth")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    projection = rng.normal(size=(8, N_FEATURES))

    # server side: train the probe on its own data ------------------------------------------
    train_props, train_features = simulate(4000, rng, projection)
    probe = Ridge(alpha=1.0).fit(train_features, train_props)
    layer = EncryptedLinearLayer(
        probe.coef_, probe.intercept_, precision=EncryptedLinearLayer.max_precision(probe.coef_)
    )
    server = BlindInferenceServer(layer=layer, pool_capacity=4 * args.galaxies)

    # client side: keys and private features --------------------------------------------------
    t0 = time.perf_counter()
    public_key, private_key = generate_keypair(args.bits)
    private_key.prepare()
    print(
        f"client key: {public_key.bits}-bit, fingerprint {public_key.fingerprint[:16]}… "
        f"({time.perf_counter() - t0:.2f} s)"
    )
    client = BlindInferenceClient(
        private_key=private_key, precision=24, value_bound=4.0
    )  # |tanh + noise| < 4
    true_props, features = simulate(args.galaxies, rng, projection)

    t0 = time.perf_counter()
    server.prefill(public_key)  # off the request path: r^n for re-randomising the outputs
    print(
        f"server precomputed {4 * args.galaxies} randomness values in {time.perf_counter() - t0:.2f} s"
    )

    blind = []
    t0 = time.perf_counter()
    for f in features:
        request = json.dumps(client.request(f))  # client -> server (encrypted)
        response = json.dumps(server.evaluate(json.loads(request), public_key=public_key))
        blind.append(client.decrypt(json.loads(response)))  # server -> client (encrypted)
    blind = np.array(blind)
    elapsed = time.perf_counter() - t0
    plain = probe.predict(features)
    print(
        f"{args.galaxies} blind inferences in {elapsed:.2f} s "
        f"({elapsed / args.galaxies * 1e3:.0f} ms each); request size {len(request) / 1024:.1f} KiB"
    )
    print(
        f"max |blind - plaintext probe| = {np.max(np.abs(blind - plain)):.2e} "
        f"(weight quantisation at {layer.precision} bits)"
    )
    print(f"\n{'property':<18s}{'unit':<16s}{'true':>8s}{'blind':>8s}{'plain':>8s}")
    for i in range(min(args.galaxies, 4)):
        for j, name in enumerate(PROPERTIES):
            print(
                f"{name:<18s}{UNITS[j]:<16s}{true_props[i, j]:8.3f}{blind[i, j]:8.3f}{plain[i, j]:8.3f}"
            )
        print()

    # a non-linear probe, blind in rounds: the server evaluates each linear layer on
    # ciphertexts, the client applies tanh and re-encrypts (acie.privacy.network) -------------
    mlp = MLPRegressor(
        hidden_layer_sizes=(16,), activation="tanh", max_iter=300, random_state=args.seed
    ).fit(train_features, train_props)
    net = BlindNetwork(
        list(zip((w.T for w in mlp.coefs_), mlp.intercepts_, strict=True)),
        ["tanh"],
        input_value_bound=4.0,
    )
    rounds = json.loads(json.dumps(net.describe()))  # what the server publishes
    t0 = time.perf_counter()
    blind_mlp = []
    for f in features:
        rc = BlindNetworkClient(private_key=private_key, rounds=rounds)
        session = net.open(public_key)  # server: the public key and a secret permutation
        enc = rc.encrypt_round(0, f)
        for k in range(net.rounds):
            enc = rc.next_input(k, session.evaluate(k, enc, pools=server.pools))
        blind_mlp.append(rc.output)
    elapsed = time.perf_counter() - t0
    err = np.max(np.abs(np.array(blind_mlp) - mlp.predict(features)))
    print(
        f"MLP probe 64 -> 16 (tanh, applied by the client) -> 4, {net.rounds} rounds: "
        f"{elapsed / args.galaxies * 1e3:.0f} ms per galaxy, max |blind - plaintext MLP| = {err:.2e}"
    )

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
        for j, ax in enumerate(axes):
            ax.scatter(true_props[:, j], blind[:, j], s=14, label="blind (decrypted)")
            lo, hi = true_props[:, j].min(), true_props[:, j].max()
            ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="identity")
            ax.set_xlabel(f"true {PROPERTIES[j]} [{UNITS[j]}]")
            ax.set_ylabel(f"predicted [{UNITS[j]}]")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=300)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
